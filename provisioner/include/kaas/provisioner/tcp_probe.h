#pragma once

#include <string>
#include <vector>

namespace kaas::provisioner {

// Probes of many machines at once, each within `timeout_ms` (all connections are made together,
// so a sweep over many machines takes one timeout, not one per machine). An address is "host",
// "host:port" or "[v6]:port" (`default_port` when none is given); one that does not parse or
// resolve answers false.
//
// A TCP connection alone proves little here: QEMU's user-mode forwarder accepts one on a VM's
// forwarded port as long as QEMU runs, whatever the guest does. So each probe waits for the
// service's own first words.

// Whether sshd answers: its banner ("SSH-") arrives.
std::vector<bool> ProbeSsh(const std::vector<std::string>& addresses, int default_port,
                           int timeout_ms);

// Whether a TLS server answers (etcd's client port): to a ClientHello, a handshake record comes
// back (the server's hello; nothing is authenticated, the connection is closed right after).
std::vector<bool> ProbeTls(const std::vector<std::string>& addresses, int default_port,
                           int timeout_ms);

}  // namespace kaas::provisioner
