#pragma once

#include <string_view>

#include "kaas/common/status.h"

namespace kaas::provisioner {

// kInvalidArgument (field "uri") unless `uri` is one kaas provisions on: `test:///default`,
// `test:///<absolute path>` (libvirt's simulated driver), `qemu:///system`, or
// `qemu+ssh://[user@]host[:port]/system` and `qemu+tls://host[:port]/system` — with no query
// parameters (libvirt's `command`, `socket`, `netcat`, `keyfile`, `no_verify`… would run a
// local program or weaken the transport) and a plain host name or IP address. Other drivers
// and transports (`ext`, `unix`, `tcp`, `libssh`, …) are refused.
Status ValidateHypervisorUri(std::string_view uri);

}  // namespace kaas::provisioner
