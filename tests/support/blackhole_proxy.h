#pragma once

// Test support: tests/support/blackhole_proxy.py between kaasd and a server it depends on
// (PostgreSQL, the company directory). It forwards until Cut(); from then on nothing passes
// either way and no socket is closed (a pulled cable, not a refusal). Heal() forwards new
// connections again.

namespace kaas::testing {

class BlackholeProxy {
 public:
  BlackholeProxy() = default;
  BlackholeProxy(const BlackholeProxy&) = delete;
  BlackholeProxy& operator=(const BlackholeProxy&) = delete;
  ~BlackholeProxy();

  // Starts the proxy on a free port of 127.0.0.1 in front of 127.0.0.1:`target_port`; true once
  // it accepts connections (within 10 s).
  bool Start(int target_port);
  void Cut();
  void Heal();
  int port() const { return port_; }

 private:
  int pid_ = -1;
  int port_ = 0;
};

}  // namespace kaas::testing
