#pragma once

#include <string>
#include <vector>

namespace kaas::provisioner {

// Whether a TCP connection to each address ("host", "host:port", "[v6]:port"; `default_port`
// when none is given) is accepted within `timeout_ms`. All connections are tried at once, so a
// sweep over many machines takes one timeout, not one per machine. An address that does not
// parse or resolve answers false.
std::vector<bool> ProbeTcp(const std::vector<std::string>& addresses, int default_port,
                           int timeout_ms);

}  // namespace kaas::provisioner
