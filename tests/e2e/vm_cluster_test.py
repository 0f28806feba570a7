#!/usr/bin/env python3
"""VM end-to-end test: a cluster of real QEMU guests through libvirtd, bootstrapped by Ansible.

kaasd runs with one real hypervisor (qemu:///system) and the Ansible bootstrapper. The test
  1. boots a guest of its own (not through kaas) and registers it as a physical host;
  2. creates a `personal` cluster: 1 master VM + 1 physical worker (that guest, over SSH);
     Ansible runs for real, etcd answers over TLS from the cluster's etcd CA and refuses
     plain HTTP and clients without a certificate;
  3. scales the masters 1 -> 3 (each new member added as a learner, then promoted, one at a
     time; etcd reports 3 voting members) and back 3 -> 1 (etcd reports 1 member, the removed
     VMs are gone from libvirt);
  4. deletes the cluster: libvirt holds nothing of it, the host is wiped and available again.
Kubernetes' half of the playbooks runs too (kubernetes_install: true), against STAND-INS for
kubeadm, kubelet and kubectl (tests/e2e/standins): kaasd's mirror of Kubernetes' binaries holds
scripts that record each call and check every file they are pointed at. The test asserts those
calls, in order, per node. No Kubernetes control plane runs here (docs/real-vms.md says why).
Fails loudly when libvirtd cannot be reached. Prints the wall times it measured
(docs/performance.md).
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

URI = "qemu:///system"
# Every wait of the test (and kaasd's boot and Ansible timeouts) times this: 1 in CI, where the
# test has the machine to itself; more when it shares the cores (KAAS_VM_TIME_SCALE=3).
SCALE = float(os.environ.get("KAAS_VM_TIME_SCALE", "1"))
PASSWORD = "vm-e2e-admin-password"
T0 = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - T0:7.1f}s] {msg}", flush=True)


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr, flush=True)
    raise SystemExit(1)


def virsh(*args, check=True):
    r = subprocess.run(["virsh", "-c", URI, *args], capture_output=True, text=True, timeout=120)
    if check and r.returncode != 0:
        fail(f"virsh {' '.join(args)}: {r.stderr.strip()}")
    return r


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Api:
    def __init__(self, base):
        self.base = base
        self.token = None

    def call(self, method, path, body=None, expect=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + "/api/v1" + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", "Bearer " + self.token)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        payload = json.loads(raw) if raw else None
        if expect is not None and status != expect:
            fail(f"{method} {path}: {status} (expected {expect}): {payload}")
        return status, payload


def wait_operation(api, op_id, timeout):
    deadline = time.monotonic() + timeout
    seen = set()
    while time.monotonic() < deadline:
        _, op = api.call("GET", f"/operations/{op_id}", expect=200)
        for s in op.get("steps", []):
            key = (s["name"], s["state"])
            if s["state"] in ("succeeded", "failed") and key not in seen:
                seen.add(key)
                log(f"  step {s['name']}: {s['state']}: {s.get('message', '')[:400]}")
        if op["state"] in ("succeeded", "failed", "cancelled"):
            return op
        time.sleep(2)
    fail(f"operation {op_id} did not finish within {timeout} s")


def ssh(key, port, command, work, timeout=180, stdin=None):
    return subprocess.run(["ssh", "-i", key, "-p", str(port), "-o", "BatchMode=yes",
                           "-o", "StrictHostKeyChecking=no", "-o", "ConnectTimeout=20",
                           "-o", f"UserKnownHostsFile={work}/known_hosts",
                           "kaas@127.0.0.1", command],
                          input=stdin, capture_output=True, text=True, timeout=timeout)


def boot_bare_host(image, work, key, name):
    """Starts a guest that stands for a physical machine: the same Debian image, booted by the
    test through libvirt (not by kaas), reachable over SSH on a forwarded loopback port."""
    port = free_port()
    disk = os.path.join(work, f"{name}.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
                    os.path.join(image, "disk.qcow2"), disk], check=True)
    seed = os.path.join(work, f"{name}-seed")
    os.makedirs(seed)
    with open(key + ".pub") as f:
        pub = f.read().strip()
    with open(os.path.join(seed, "user-data"), "w") as f:
        f.write(f"""#cloud-config
hostname: {name}
users:
  - name: kaas
    groups: [sudo]
    sudo: "ALL=(ALL) NOPASSWD:ALL"
    shell: /bin/bash
    ssh_authorized_keys: ["{pub}"]
""")
    with open(os.path.join(seed, "meta-data"), "w") as f:
        f.write(f"instance-id: {name}\nlocal-hostname: {name}\n")
    iso = os.path.join(work, f"{name}-seed.iso")
    subprocess.run(["genisoimage", "-quiet", "-output", iso, "-volid", "cidata", "-joliet",
                    "-rock", os.path.join(seed, "user-data"), os.path.join(seed, "meta-data")],
                   check=True)
    console = os.path.join(work, "console", f"{name}.log")
    os.makedirs(os.path.dirname(console), exist_ok=True)
    xml = os.path.join(work, f"{name}.xml")
    with open(xml, "w") as f:
        f.write(f"""<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>{name}</name>
  <memory unit='MiB'>768</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{image}/vmlinuz</kernel>
    <initrd>{image}/initrd.img</initrd>
    <cmdline>root=/dev/vda rw console=ttyS0 net.ifnames=0 panic=-1</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/><source file='{disk}'/><target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/><source file='{iso}'/><target dev='hdc' bus='ide'/>
      <readonly/>
    </disk>
    <serial type='pty'><log file='{console}' append='off'/></serial>
    <console type='pty'/>
    <memballoon model='none'/>
  </devices>
  <qemu:commandline>
    <qemu:arg value='-netdev'/>
    <qemu:arg value='user,id=net0,hostfwd=tcp:127.0.0.1:{port}-:22'/>
    <qemu:arg value='-device'/>
    <qemu:arg value='virtio-net-pci,netdev=net0,addr=0x10'/>
  </qemu:commandline>
</domain>
""")
    virsh("define", xml)
    virsh("start", name)
    return port


def wait_ssh(key, port, work, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ssh(key, port, "true", work, timeout=60).returncode == 0:
                return
        except subprocess.TimeoutExpired:
            pass
        time.sleep(3)
    fail(f"no SSH on 127.0.0.1:{port} within {timeout} s")


ETCDCTL = ("sudo etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/kaas/pki/etcd/ca.crt "
           "--cert=/etc/kaas/pki/etcd/client.crt --key=/etc/kaas/pki/etcd/client.key")


def etcd_member_list(key, port, work):
    r = ssh(key, port, ETCDCTL + " member list -w json", work)
    if r.returncode != 0:
        fail(f"etcdctl member list over TLS failed: {r.stdout} {r.stderr}")
    return json.loads(r.stdout)["members"]


def etcd_members(key, port, work):
    return sorted((m.get("name", ""), bool(m.get("isLearner", False)))
                  for m in etcd_member_list(key, port, work))


# Runs inside a master: every ~3-5 s, on the guest's own clock, etcd's member list (with learner
# flags) and whether each peer machine's SSH port still answers (through the QEMU gateway).
# Reading one clock for both is what lets the test order "member removed" against "machine
# gone" without trusting kaas's own step names. The machines are probed before etcd is asked,
# so a sample that lists a member whose machine was already down is a real violation.
WATCH_SCRIPT = r"""#!/bin/bash
while :; do
  echo "T $(date +%s.%N)"
  for pp in $PEERS; do
    if timeout 2 bash -c "</dev/tcp/10.0.2.2/${pp#*=}" 2>/dev/null; then echo "U ${pp%%=*}"
    else echo "D ${pp%%=*}"; fi
  done
  echo "M $(etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/kaas/pki/etcd/ca.crt \
      --cert=/etc/kaas/pki/etcd/client.crt --key=/etc/kaas/pki/etcd/client.key \
      --dial-timeout=2s --command-timeout=3s member list -w json 2>/dev/null | tr -d '\n')"
  sleep 3  # each etcdctl start costs the emulated guest a second or more of its one CPU
done >> /tmp/kaas-e2e-etcd-watch.log 2>&1
"""


def start_etcd_watch(key, port, work, peers):
    """Starts WATCH_SCRIPT in the guest at `port`; peers: {node name: forwarded SSH port}."""
    r = ssh(key, port, "cat > /tmp/kaas-e2e-etcd-watch.sh && sudo rm -f /tmp/kaas-e2e-etcd-watch.log",
            work, stdin=WATCH_SCRIPT)
    if r.returncode != 0:
        fail(f"cannot install the etcd watcher: {r.stderr}")
    env = " ".join(f"{n}={p}" for n, p in peers.items())
    r = ssh(key, port, f"sudo env PEERS='{env}' setsid nohup bash /tmp/kaas-e2e-etcd-watch.sh "
                       "</dev/null >/dev/null 2>&1 &", work)
    if r.returncode != 0:
        fail(f"cannot start the etcd watcher: {r.stderr}")


def read_etcd_watch(key, port, work):
    """Stops the watcher and returns its samples: [{t, members: {peer url: (name, learner)}
    or None when etcd did not answer, up: {node: bool}}]."""
    ssh(key, port, "sudo pkill -f kaas-e2e-etcd-watch.sh", work)
    r = ssh(key, port, "cat /tmp/kaas-e2e-etcd-watch.log", work)
    samples = []
    for line in r.stdout.splitlines():
        tag, _, rest = line.partition(" ")
        if tag == "T":
            samples.append({"t": float(rest), "members": None, "up": {}})
        elif tag == "M" and samples and rest.strip():
            try:
                ms = json.loads(rest)["members"]
            except (ValueError, KeyError):
                continue
            samples[-1]["members"] = {m["peerURLs"][0]: (m.get("name", ""),
                                                         bool(m.get("isLearner", False)))
                                      for m in ms}
        elif tag in ("U", "D") and samples:
            samples[-1]["up"][rest.strip()] = tag == "U"
    if not any(s["members"] for s in samples):
        fail(f"the etcd watcher saw no member list: {r.stdout[-2000:]} {r.stderr}")
    return samples


def membership_states(samples, names):
    """The distinct successive membership states etcd reported, each as a sorted tuple of
    (node name, learner); `names` maps peer URLs to node names (a learner that has not started
    yet has no name in etcd's answer)."""
    states = []
    for s in samples:
        if s["members"] is None:
            continue
        st = tuple(sorted((names.get(url, n or url), learner)
                          for url, (n, learner) in s["members"].items()))
        if not states or states[-1] != st:
            states.append(st)
    return states


def check_learners_then_voters(samples, names, added):
    """etcd itself showed each added member as a learner before it was a voter, one member at a
    time: the states follow [m1] -> [+m2 learner] -> [m2 voter] -> [+m3 learner] -> [all voters]
    (a state may be missed between two samples, never reordered)."""
    states = membership_states(samples, names)
    expected = [(("master-1", False),)]
    for n in added:
        prev = [m for m in expected[-1]]
        expected.append(tuple(sorted(prev + [(n, True)])))
        expected.append(tuple(sorted(prev + [(n, False)])))
    log("etcd membership as etcd reported it during the scale-out: " +
        " -> ".join("[" + ", ".join(n + (" (learner)" if lrn else "") for n, lrn in st) + "]"
                    for st in states))
    pos = -1
    for st in states:
        if st not in expected:
            fail(f"etcd showed a membership state outside the plan: {st}; expected {expected}")
        i = expected.index(st)
        if i < pos:
            fail(f"etcd membership went backwards: {states}")
        pos = i
    for i, n in enumerate(added):
        if expected[2 * i + 1] not in states:
            fail(f"etcd never showed {n} as a learner: {states}")
    if states[-1] != expected[-1]:
        fail(f"etcd's last state {states[-1]} is not {expected[-1]}")


def check_removed_before_destroyed(samples, names, removed):
    """On the survivor's clock: each removed master left etcd's member list before its machine
    stopped answering, and no sample ever showed a member whose machine was gone."""
    for n in removed:
        in_etcd = [n in {names.get(u, nm) for u, (nm, _) in s["members"].items()}
                   if s["members"] is not None else None for s in samples]
        up = [s["up"].get(n) for s in samples]
        if not any(v is True for v in in_etcd) or not any(v is True for v in up):
            fail(f"the watcher never saw {n} in etcd and up (no positive control): "
                 f"{list(zip(in_etcd, up))}")
        for s, member, alive in zip(samples, in_etcd, up):
            if member is True and alive is False:
                fail(f"{n} was still an etcd member at {s['t']:.1f} while its machine was gone")
        t_removed = next((s["t"] for s, m in zip(samples, in_etcd) if m is False), None)
        t_gone = next((s["t"] for s, a in zip(samples, up) if a is False), None)
        if t_removed is None or t_gone is None:
            fail(f"{n}: removal from etcd ({t_removed}) or end of machine ({t_gone}) not seen")
        if t_removed > t_gone:
            fail(f"{n}: machine gone at {t_gone:.1f}, removed from etcd only at {t_removed:.1f}")
        log(f"{n}: left etcd at +{t_removed - samples[0]['t']:.1f} s, machine gone at "
            f"+{t_gone - samples[0]['t']:.1f} s (guest clock, etcd's own member list)")


# What wipe-host.yml promises to remove (templates/ansible/wipe-host.yml); prints "wiped" only
# when none of it is left, else one line per thing left.
WIPE_PATHS = ["/etc/kaas", "/var/lib/etcd/kaas", "/usr/local/sbin/kaas-etcdctl",
              "/etc/sysctl.d/90-kaas.conf", "/etc/modules-load.d/kaas.conf", "/etc/kubernetes",
              "/var/lib/kubelet", "/usr/local/bin/kubeadm", "/usr/local/bin/kubelet",
              "/usr/local/bin/kubectl", "/etc/systemd/system/kubelet.service",
              "/etc/systemd/system/kubelet.service.d"]
WIPE_PROBE = ("bad=0; for p in " + " ".join(WIPE_PATHS) +
              "; do if sudo test -e $p; then echo left $p; bad=1; fi; done; "
              "for u in etcd kubelet; do "
              "if systemctl is-active --quiet $u; then echo running $u; bad=1; fi; "
              "if systemctl is-enabled --quiet $u 2>/dev/null; then echo enabled $u; bad=1; fi; "
              "done; [ $bad = 0 ] && echo wiped; true")


STANDINS = ("kubeadm", "kubelet", "kubectl")


def build_standin_mirror(source_dir, mirror, versions):
    """kaasd's mirror of Kubernetes' binaries (kubernetes_binaries), holding the stand-ins for
    every version kaas offers: each script with the shared part inlined, and SHA256SUMS, which
    the playbooks check on the node."""
    here = os.path.join(source_dir, "tests/e2e/standins")
    with open(os.path.join(here, "kaas-standin-common.sh")) as f:
        common = f.read()
    for v in versions:
        d = os.path.join(mirror, "v" + v)
        os.makedirs(d)
        sums = []
        for tool in STANDINS:
            with open(os.path.join(here, tool)) as f:
                text = f.read()
            text = re.sub(r'^\. "\$\(dirname .*kaas-standin-common\.sh"$',
                          lambda _: common.strip(), text, count=1, flags=re.M)
            if "kaas-standin-common.sh" in text:
                fail(f"stand-in {tool}: the shared part was not inlined")
            path = os.path.join(d, tool)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o755)
            digest = subprocess.run(["sha256sum", tool], cwd=d, capture_output=True, text=True,
                                    check=True).stdout
            sums.append(digest)
        with open(os.path.join(d, "SHA256SUMS"), "w") as f:
            f.write("".join(sums))


def standin_calls(key, port, work, node):
    """The stand-ins' record on a node: [(time, tool, args)]; fails on any failed check."""
    r = ssh(key, port, "sudo cat /var/log/kaas-standins.log", work)
    if r.returncode != 0:
        fail(f"{node}: no stand-in record: {r.stderr}")
    calls = []
    for line in r.stdout.splitlines():
        parts = line.split(" ", 3)
        if len(parts) < 3:
            continue
        args = parts[3] if len(parts) > 3 else ""
        if args.startswith("FAILED:"):
            fail(f"{node}: the {parts[2]} stand-in refused a call: {args}")
        calls.append((float(parts[0]), parts[2], args))
    log(f"STAND-IN calls recorded on {node} (scripts standing in for kubeadm/kubelet/kubectl, "
        f"not Kubernetes):")
    for t, tool, args in calls:
        log(f"    {tool} {args}")
    return calls


def expect_calls_in_order(calls, node, wanted):
    """`wanted`: [(tool, args prefix)] that must appear in this order (others may be between)."""
    i = 0
    for _, tool, args in calls:
        if i < len(wanted) and tool == wanted[i][0] and args.startswith(wanted[i][1]):
            i += 1
    if i < len(wanted):
        fail(f"{node}: expected the stand-in calls {wanted} in order; "
             f"missing {wanted[i]} in {[(t, a) for _, t, a in calls]}")


def domain_element(cluster_id, node_name, tag):
    xml = virsh("dumpxml", f"kaas-{cluster_id}-{node_name}").stdout
    return int(xml.split(f"<{tag}>")[1].split("<")[0])


def master_ssh_port(cluster_id, node_name):
    xml = virsh("dumpxml", f"kaas-{cluster_id}-{node_name}").stdout
    return int(xml.split("<ssh_port>")[1].split("<")[0])


def check_membership_steps(op, expected_names):
    """Each new member is added as a learner, then promoted, before the next one starts."""
    seq = []
    for s in op["steps"]:
        m = re.match(r"(add|promote) (\S+) (to etcd as learner|to voter)$", s["name"])
        if m:
            seq.append((m.group(1), m.group(2), s["started_at"], s["finished_at"]))
    want = [(verb, n) for n in expected_names for verb in ("add", "promote")]
    if [(v, n) for v, n, _, _ in seq] != want:
        fail(f"etcd membership steps are {[(v, n) for v, n, _, _ in seq]}, expected {want}")
    for prev, nxt in zip(seq, seq[1:]):
        if nxt[2] < prev[3]:
            fail(f"step {nxt[:2]} started before {prev[:2]} finished")


def wait_repairs(api, cluster_id, count, timeout):
    """The cluster's first `count` repair operations, oldest first, once all have ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, ops = api.call("GET", f"/clusters/{cluster_id}/operations", expect=200)
        repairs = [o for o in reversed(ops["items"]) if o["type"] == "repair"]
        if len(repairs) >= count and all(o["state"] not in ("pending", "running")
                                         for o in repairs[:count]):
            return repairs[:count]
        time.sleep(3)
    fail(f"{count} repair operation(s) did not end within {timeout} s: "
         f"{[(o['id'], o['state']) for o in repairs]}")


def repair_checks(api, key, work, cluster_id, bare, bare_port, bare2_port, times):
    """A master's VM and the physical worker's machine die (virsh destroy); kaas's health
    monitor notices both and repairs them, master first: the dead etcd member is removed on a
    survivor, a new VM joins as a learner and is promoted; the worker moves to the spare host
    pm-2 and the dead pm-1 goes to maintenance. Returns the masters afterwards."""
    m1 = master_ssh_port(cluster_id, "master-1")
    t = time.monotonic()
    virsh("destroy", f"kaas-{cluster_id}-master-2")
    virsh("destroy", bare)
    log("destroyed the VM of master-2 and the physical worker's machine (pm-1)")
    seen = set()
    deadline = time.monotonic() + 120 * SCALE
    while len(seen) < 2 and time.monotonic() < deadline:
        _, c = api.call("GET", f"/clusters/{cluster_id}", expect=200)
        for n in c["nodes"]:
            if n["name"] in ("master-2", "worker-1") and n["health"] == "unhealthy":
                if n["name"] not in seen:
                    log(f"kaas sees {n['name']} unhealthy: {n['health_reason']}")
                seen.add(n["name"])
        _, ops = api.call("GET", f"/clusters/{cluster_id}/operations", expect=200)
        if any(o["type"] == "repair" for o in ops["items"]):
            seen.add("master-2")  # the repair began before the poll saw the node
        time.sleep(2)
    if "master-2" not in seen:
        fail("kaas did not see master-2 unhealthy after its VM was destroyed")
    master_op, worker_op = wait_repairs(api, cluster_id, 2, 1500 * SCALE)
    times["repair_master_and_worker"] = time.monotonic() - t
    for op in (master_op, worker_op):
        if op["state"] != "succeeded":
            fail(f"repair {op['id']} ended {op['state']}: {op.get('error')}")
        if op["requested_by"] != "kaas-health-monitor":
            fail(f"repair {op['id']} was not started by the health monitor: {op['requested_by']}")
    names = [st["name"] for st in master_op["steps"]]
    log(f"master repair steps: {names}")
    if names[:3] != ["remove master-2 from etcd (its machine is down)", "destroy master-2",
                     "provision master-4"]:
        fail(f"the master repair did not remove the dead member first: {names}")
    check_membership_steps(master_op, ["master-4"])
    names = [st["name"] for st in worker_op["steps"]]
    log(f"worker repair steps: {names}")
    if "remove worker-1" not in names or "join workers" not in names:
        fail(f"the worker repair did not replace worker-1: {names}")

    # etcd itself: three healthy voters, the dead one gone, the new one among them.
    members = etcd_members(key, m1, work)
    if members != [("master-1", False), ("master-3", False), ("master-4", False)]:
        fail(f"etcd members after the repair: {members}")
    r = ssh(key, m1, ETCDCTL + " endpoint health --cluster", work)
    if r.returncode != 0 or (r.stdout + r.stderr).count("is healthy") != 3:
        fail(f"not every member is healthy after the repair: {r.stdout} {r.stderr}")
    doms = sorted(d for d in virsh("list", "--all", "--name").stdout.split() if cluster_id in d)
    if doms != [f"kaas-{cluster_id}-master-{i}" for i in (1, 3, 4)]:
        fail(f"domains after the repair: {doms}")
    _, c = api.call("GET", f"/clusters/{cluster_id}", expect=200)
    workers = [n for n in c["nodes"] if n["role"] == "worker"]
    if [(w["name"], w.get("host"), w["state"]) for w in workers] != [("worker-2", "pm-2", "ready")]:
        fail(f"workers after the repair: {workers}")
    _, hosts = api.call("GET", "/hosts", expect=200)
    states = {h["name"]: h["state"] for h in hosts["items"]}
    if states.get("pm-1") != "maintenance" or states.get("pm-2") != "allocated":
        fail(f"hosts after the repair: {states} (the dead pm-1 must wait for a person)")
    r = ssh(key, bare2_port, "cat /etc/kaas/bootstrap.yaml", work)
    if f"cluster_id: {cluster_id}" not in r.stdout or "node: worker-2" not in r.stdout:
        fail(f"pm-2 was not bootstrapped as worker-2: {r.stdout} {r.stderr}")
    r = ssh(key, bare2_port, WIPE_PROBE, work)
    if "left /etc/kaas" not in r.stdout:
        fail(f"the wipe probe does not see what kaas installed on pm-2: {r.stdout}")
    log(f"master-2 and worker-1 repaired in {times['repair_master_and_worker']:.1f} s; "
        f"etcd: {members}; worker-2 on pm-2, pm-1 in maintenance")
    return ["master-1", "master-3", "master-4"]


def lifecycle_checks(api, key, work, pool, bare_host, bare2_port, times, current):
    """Steps 2-4: create (1 master VM + the physical worker), etcd over TLS, masters 1 -> 3,
    a dead master and a dead physical worker repaired, masters 3 -> 1, delete.
    `current["cluster"]` names the cluster for the cleanup."""
    bare, bare_port = bare_host
    # 2. Create: 1 master VM + 1 physical worker, bootstrapped by Ansible.
    t = time.monotonic()
    _, created = api.call("POST", "/clusters", {
        "name": "vm-e2e", "team": "e2e", "purpose": "personal",
        "workers": {"count": 1, "kind": "physical"}}, expect=202)
    cluster_id = current["cluster"] = created["cluster"]["id"]
    log(f"creating cluster {cluster_id}")
    op = wait_operation(api, created["operation"]["id"], 900 * SCALE)
    times["create_1_master"] = time.monotonic() - t
    if op["state"] != "succeeded":
        fail(f"create ended {op['state']}: {op.get('error')}")
    log(f"cluster created in {times['create_1_master']:.1f} s")

    msgs = {s["name"]: s.get("message", "") for s in op["steps"]}
    boot = [m for n, m in msgs.items() if "bootstrap" in n or "join" in n]
    if not boot or any("simulated" in m for m in boot):
        fail(f"bootstrap steps did not run Ansible for real: {boot}")
    if not all("ansible-playbook" in m and "failed=0" in m for m in boot):
        fail(f"bootstrap step messages lack a clean PLAY RECAP: {boot}")
    if any("kubernetes_install is false" in m for m in boot):
        fail(f"Kubernetes tasks were skipped although kubernetes_install is true: {boot}")
    doms = [d for d in virsh("list", "--all", "--name").stdout.split() if cluster_id in d]
    if len(doms) != 1:
        fail(f"expected 1 domain (the master) of {cluster_id}, virsh lists {doms}")

    # The physical worker was bootstrapped over SSH as a worker of this cluster.
    r = ssh(key, bare_port, "cat /etc/kaas/bootstrap.yaml", work)
    if r.returncode != 0 or f"cluster_id: {cluster_id}" not in r.stdout \
            or "role: worker" not in r.stdout:
        fail(f"the physical host was not bootstrapped as a worker: {r.stdout} {r.stderr}")
    _, hosts = api.call("GET", "/hosts", expect=200)
    pm = next(h for h in hosts["items"] if h["name"] == "pm-1")
    if pm["state"] != "allocated":
        fail(f"host pm-1 is {pm['state']}, expected allocated")
    r = ssh(key, bare_port, WIPE_PROBE, work)
    if "left /etc/kaas" not in r.stdout:
        fail(f"the wipe probe does not see what kaas installed on the host: {r.stdout}")

    # etcd answers over TLS with kaas's client certificate from the cluster's etcd CA, and
    # refuses plain HTTP and clients without a certificate.
    m1 = master_ssh_port(cluster_id, "master-1")
    r = ssh(key, m1, ETCDCTL + " endpoint health", work)
    log(f"etcd on master-1 over TLS: {r.stdout.strip()} {r.stderr.strip()}")
    if r.returncode != 0 or "is healthy" not in (r.stdout + r.stderr):
        fail(f"etcd does not answer over TLS on the master: {r.stdout} {r.stderr}")
    r = ssh(key, m1, "sudo openssl x509 -noout -issuer -in /etc/kaas/pki/etcd/member.crt",
            work)
    if "etcd-ca vm-e2e" not in r.stdout:
        fail(f"the member certificate is not from the cluster's etcd CA: {r.stdout}")
    # The refusals are checked by what etcd answered, not just by a non-zero exit (which a
    # missing etcdctl or a typo would give too).
    r = ssh(key, m1, "etcdctl --dial-timeout=5s --command-timeout=5s "
                     "--endpoints=http://127.0.0.1:2379 endpoint health", work)
    said = r.stdout + r.stderr
    log(f"plain HTTP to etcd: exit {r.returncode}: {said.strip()[-300:]}")
    if r.returncode == 0 or "is unhealthy" not in said or "command not found" in said:
        fail(f"etcd over plain HTTP was not refused by etcd: {said}")
    r = ssh(key, m1, "sudo etcdctl --dial-timeout=5s --command-timeout=5s "
                     "--endpoints=https://127.0.0.1:2379 "
                     "--cacert=/etc/kaas/pki/etcd/ca.crt endpoint health", work)
    said = r.stdout + r.stderr
    log(f"TLS without a client certificate: exit {r.returncode}: {said.strip()[-300:]}")
    # etcdctl 3.4 does not name the TLS alert; the refusal is the connection that never comes
    # up, for a command that differs from the healthy one above only by the missing certificate.
    if r.returncode == 0 or "is unhealthy" not in said or not re.search(
            r"TransientFailure|bad certificate|certificate required|handshake", said):
        fail(f"etcd did not refuse a client without a certificate: {said}")
    r = ssh(key, m1, "grep -c '^kind:' /etc/kaas/guardrails.yaml", work)
    if r.stdout.strip() != "5":
        fail(f"the guardrail manifests did not reach the master: {r.stdout} {r.stderr}")

    # Kubernetes' half, through the stand-ins: kubeadm init on the master with kaas's keys and
    # the API server's etcd certificate (the stand-in asks etcd with it), the guardrails
    # applied, the kubelet started; a join token made on the master for the worker, whose
    # kubeadm join trusts the master's API endpoint from the discovery file.
    m1_api = domain_element(cluster_id, "master-1", "apiserver_port")
    m1_etcd = domain_element(cluster_id, "master-1", "etcd_client_port")
    calls = standin_calls(key, m1, work, "master-1")
    expect_calls_in_order(calls, "master-1", [
        ("kubeadm", "init --config /etc/kaas/kubeadm-config.yaml"),
        ("kubeadm", f"checked etcd https://10.0.2.2:{m1_etcd} with apiserver-etcd-client.crt"),
        ("kubelet", "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf "
                    "--kubeconfig=/etc/kubernetes/kubelet.conf --config=/var/lib/kubelet/config.yaml"),
        ("kubectl", "--kubeconfig /etc/kubernetes/admin.conf apply -f /etc/kaas/guardrails.yaml"),
        ("kubeadm", "token create ")])
    tokens_after_create = sum(1 for _, t, a in calls if t == "kubeadm" and a.startswith("token"))
    calls = standin_calls(key, bare_port, work, "pm-1")
    expect_calls_in_order(calls, "pm-1", [
        ("kubeadm", "join --config /etc/kaas/kubeadm-join.yaml"),
        ("kubeadm", f"discovery server https://10.0.2.2:{m1_api}"),
        ("kubelet", "--bootstrap-kubeconfig=")])
    if any(t == "kubeadm" and a.startswith("init") for _, t, a in calls):
        fail("kubeadm init ran on the worker")
    r = ssh(key, bare_port, "sudo grep -c controlPlane /etc/kaas/kubeadm-join.yaml", work)
    if r.stdout.strip() != "0":
        fail(f"the worker's join configuration makes it a control-plane node: {r.stdout}")
    if etcd_members(key, m1, work) != [("master-1", False)]:
        fail(f"etcd members after create: {etcd_members(key, m1, work)}")

    # 3. Masters 1 -> 3: learners first, promoted one at a time; 3 voting members. (One
    # hypervisor here, so the masters share it: allow_colocated_masters.)
    start_etcd_watch(key, m1, work, {})
    t = time.monotonic()
    _, scaled = api.call("POST", f"/clusters/{cluster_id}/masters",
                         {"count": 3, "allow_colocated_masters": True}, expect=202)
    op = wait_operation(api, scaled["operation"]["id"], 1200 * SCALE)
    times["masters_1_to_3"] = time.monotonic() - t
    if op["state"] != "succeeded":
        fail(f"master scale-out ended {op['state']}: {op.get('error')}")
    check_membership_steps(op, ["master-2", "master-3"])
    # The health gates asked etcd itself (etcd-status.yml on master-1), not kaas's record.
    gates = [st.get("message", "") for st in op["steps"] if st["name"].startswith("health gate")]
    if len(gates) != 2 or not all(g.startswith("etcd (asked on master-1): ") and
                                  "all healthy" in g for g in gates):
        fail(f"the health gates did not report etcd's own answer: {gates}")
    log(f"health gates: {gates}")
    members = etcd_members(key, m1, work)
    if members != [("master-1", False), ("master-2", False), ("master-3", False)]:
        fail(f"etcd members after 1 -> 3: {members}")
    names = {m["peerURLs"][0]: m["name"] for m in etcd_member_list(key, m1, work)}
    check_learners_then_voters(read_etcd_watch(key, m1, work), names, ["master-2", "master-3"])
    r = ssh(key, m1, ETCDCTL + " endpoint health --cluster", work)
    if r.returncode != 0 or (r.stdout + r.stderr).count("is healthy") != 3:
        fail(f"not every member is healthy: {r.stdout} {r.stderr}")
    log(f"masters 1 -> 3 in {times['masters_1_to_3']:.1f} s; etcd: {members}")
    for n in ("master-2", "master-3"):
        p = master_ssh_port(cluster_id, n)
        expect_calls_in_order(standin_calls(key, p, work, n), n, [
            ("kubeadm", "join --config /etc/kaas/kubeadm-join.yaml"),
            ("kubeadm", f"discovery server https://10.0.2.2:{m1_api}"),
            ("kubelet", "--bootstrap-kubeconfig=")])
        r = ssh(key, p, "sudo grep -c 'controlPlane:' /etc/kaas/kubeadm-join.yaml", work)
        if r.stdout.strip() != "1":
            fail(f"{n} did not join as a control-plane node: {r.stdout} {r.stderr}")
    tokens = sum(1 for _, t, a in standin_calls(key, m1, work, "master-1")
                 if t == "kubeadm" and a.startswith("token create"))
    if tokens != tokens_after_create + 2:
        fail(f"expected one join token per joining master on master-1, saw "
             f"{tokens - tokens_after_create}")

    # A dead master and a dead physical worker, repaired by kaas on its own.
    masters = repair_checks(api, key, work, cluster_id, bare, bare_port, bare2_port, times)
    names = {m["peerURLs"][0]: m["name"] for m in etcd_member_list(key, m1, work)}

    # Masters 3 -> 1: etcd keeps one member, the removed VMs are gone. The highest-numbered
    # masters go (the contract, checked below), so master-1 watches etcd and the others' machines.
    ports = {n: master_ssh_port(cluster_id, n) for n in masters}
    start_etcd_watch(key, ports["master-1"], work,
                     {o: q for o, q in ports.items() if o != "master-1"})
    t = time.monotonic()
    _, scaled = api.call("POST", f"/clusters/{cluster_id}/masters", {"count": 1}, expect=202)
    op = wait_operation(api, scaled["operation"]["id"], 1200 * SCALE)
    times["masters_3_to_1"] = time.monotonic() - t
    if op["state"] != "succeeded":
        fail(f"master scale-in ended {op['state']}: {op.get('error')}")
    _, cluster = api.call("GET", f"/clusters/{cluster_id}", expect=200)
    left = sorted(n["name"] for n in cluster["nodes"] if n["role"] == "master")
    if left != ["master-1"]:
        fail(f"masters after 3 -> 1: {left}, expected master-1 (the highest-numbered go)")
    survivor = master_ssh_port(cluster_id, left[0])
    check_removed_before_destroyed(read_etcd_watch(key, survivor, work), names,
                                   [n for n in ports if n != left[0]])
    members = etcd_members(key, survivor, work)
    if members != [(left[0], False)]:
        fail(f"etcd members after 3 -> 1: {members}")
    doms = sorted(d for d in virsh("list", "--all", "--name").stdout.split()
                  if cluster_id in d)
    if doms != [f"kaas-{cluster_id}-{left[0]}"]:
        fail(f"domains after 3 -> 1: {doms}")
    log(f"masters 3 -> 1 in {times['masters_3_to_1']:.1f} s; etcd: {members}")
    # Kubernetes forgot the removed masters (their Node objects deleted on the survivor).
    calls = standin_calls(key, survivor, work, left[0])
    for n in ports:
        if n != left[0] and not any(t == "kubectl" and f"delete node {n} " in a + " "
                                    for _, t, a in calls):
            fail(f"the Node object of {n} was not deleted on {left[0]}")

    # 4. Delete: nothing of the cluster is left in libvirt; the host is wiped and free (pm-2,
    # which took the worker over; the dead pm-1 stays in maintenance).
    t = time.monotonic()
    _, deleted = api.call("DELETE", f"/clusters/{cluster_id}", expect=202)
    op = wait_operation(api, deleted["operation"]["id"], 400 * SCALE)
    times["delete"] = time.monotonic() - t
    if op["state"] != "succeeded":
        fail(f"delete ended {op['state']}: {op.get('error')}")
    left = [d for d in virsh("list", "--all", "--name").stdout.split() if cluster_id in d]
    vols = [v for v in virsh("vol-list", pool).stdout.splitlines() if cluster_id in v]
    if left or vols:
        fail(f"left behind after delete: domains {left}, volumes {vols}")
    _, hosts = api.call("GET", "/hosts", expect=200)
    pm = next(h for h in hosts["items"] if h["name"] == "pm-2")
    if pm["state"] != "available":
        fail(f"host pm-2 is {pm['state']} after delete, expected available")
    # Everything wipe-host.yml promises: every path kaas wrote is gone, the services it
    # started are stopped and disabled. Positive control: the same probe found them while the
    # host was allocated (checked after the create above).
    expect_calls_in_order(standin_calls(key, bare2_port, work, "pm-2"), "pm-2",
                          [("kubeadm", "join "), ("kubeadm", "reset -f")])
    r = ssh(key, bare2_port, WIPE_PROBE, work)
    if r.returncode != 0 or r.stdout.split() != ["wiped"]:
        fail(f"the host still holds kaas's state after release: {r.stdout} {r.stderr}")
    log(f"cluster deleted in {times['delete']:.1f} s; virsh shows nothing of it, "
        "pm-2 wiped and available")


def three_master_create(api, key, work, times, current):
    """--three-masters (docs/performance.md): the same create with 3 masters."""
    t = time.monotonic()
    _, created = api.call("POST", "/clusters", {
        "name": "vm-e2e-3", "team": "e2e", "purpose": "dev",
        "allow_colocated_masters": True,
        "workers": {"count": 1, "kind": "physical"}}, expect=202)
    cluster_id = current["cluster"] = created["cluster"]["id"]
    op = wait_operation(api, created["operation"]["id"], 1500 * SCALE)
    times["create_3_masters"] = time.monotonic() - t
    if op["state"] != "succeeded":
        fail(f"3-master create ended {op['state']}: {op.get('error')}")
    members = etcd_members(key, master_ssh_port(cluster_id, "master-1"), work)
    if members != [("master-1", False), ("master-2", False), ("master-3", False)]:
        fail(f"etcd members after a 3-master create: {members}")
    log(f"3-master cluster created in {times['create_3_masters']:.1f} s; etcd: {members}")
    _, deleted = api.call("DELETE", f"/clusters/{cluster_id}", expect=202)
    if wait_operation(api, deleted["operation"]["id"], 400 * SCALE)["state"] != "succeeded":
        fail("deleting the 3-master cluster failed")


def main():
    # ctest's timeout (and a human's kill) must still run the cleanup in `finally`.
    signal.signal(signal.SIGTERM, lambda *_: fail("terminated (timeout?)"))
    signal.signal(signal.SIGINT, lambda *_: fail("interrupted"))
    ap = argparse.ArgumentParser()
    ap.add_argument("--kaasd", required=True)
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--cache-dir", required=True)
    ap.add_argument("--keep", action="store_true", help="keep the work dir (debugging)")
    ap.add_argument("--three-masters", action="store_true",
                    help="instead of the lifecycle checks, time a 3-master create "
                         "(docs/performance.md; not in CI)")
    args = ap.parse_args()

    # 0. libvirtd must be there: a missing daemon is a failure, not a skip.
    r = subprocess.run(["virsh", "-c", URI, "version"], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"libvirtd is not reachable at {URI} (.ci/run starts it): {r.stderr.strip()}")
    for tool in ("ansible-playbook", "genisoimage", "qemu-system-x86_64", "qemu-img",
                 "ssh-keygen"):
        if not shutil.which(tool):
            fail(f"{tool} is not installed (scripts/install-deps.sh --vm)")

    # 1. The guest image (cached by recipe hash).
    t = time.monotonic()
    r = subprocess.run(["bash", os.path.join(args.source_dir, "scripts/build-guest-image.sh"),
                        args.cache_dir], capture_output=True, text=True, timeout=850)
    if r.returncode != 0:
        fail(f"guest image build failed:\n{r.stderr[-3000:]}")
    image = os.path.abspath(r.stdout.strip().splitlines()[-1])
    times = {"image": time.monotonic() - t}
    log(f"guest image {image} ready in {times['image']:.1f} s")

    work = tempfile.mkdtemp(prefix="kaas-vm-e2e.")
    os.chmod(work, 0o755)
    suffix = os.path.basename(work).split(".")[-1].lower()
    key = os.path.join(work, "id_ed25519")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    pool = "kaas-e2e-" + suffix
    bare = "kaas-e2e-bare-" + suffix
    bare2 = "kaas-e2e-bare2-" + suffix  # the spare physical machine a dead worker moves to
    port = free_port()
    config = os.path.join(work, "kaasd.yaml")
    with open(config, "w") as f:
        f.write(f"""listen: 127.0.0.1:{port}
data_dir: {work}/data
templates_dir: {args.source_dir}/templates
simulated: false
reconcile_interval_seconds: 0
bootstrap: ansible
guest_image: {image}
ssh_key: {key}
kubernetes_install: true
kubernetes_binaries: {work}/kubernetes
etcd_cert_extra_names: 10.0.2.2
vm_pool_name: {pool}
vm_pool_dir: {work}/pool
vm_console_dir: {work}/console
vm_boot_timeout_seconds: {int(500 * SCALE)}
vm_max_vcpus: 1
vm_max_memory_mib: 768
ansible_timeout_seconds: {int(500 * SCALE)}
health_interval_s: 5
repair_grace_s: 15
hypervisors:
  - {{name: hv-local, uri: "{URI}", vcpus: 64, memory_gib: 256}}
""")
    env = dict(os.environ, KAAS_ADMIN_PASSWORD=PASSWORD)
    kaasd_log = open(os.path.join(work, "kaasd.log"), "w")
    kaasd = subprocess.Popen([args.kaasd, "--config", config], stdout=kaasd_log,
                             stderr=subprocess.STDOUT, env=env)
    current = {"cluster": None}
    api = Api(f"http://127.0.0.1:{port}")
    ok = False
    try:
        # 1b. A guest of the test's own, standing in for a physical machine; it boots while
        # kaasd starts.
        t = time.monotonic()
        bare_port = boot_bare_host(image, work, key, bare)
        bare2_port = boot_bare_host(image, work, key, bare2)
        for _ in range(100):
            try:
                urllib.request.urlopen(api.base + "/healthz", timeout=2)
                break
            except urllib.error.HTTPError:
                break  # it answers
            except Exception:
                if kaasd.poll() is not None:
                    fail("kaasd exited at start, see " + kaasd_log.name)
                time.sleep(0.2)
        _, login = api.call("POST", "/auth/login", {"username": "admin", "password": PASSWORD},
                            expect=200)
        api.token = login["token"]
        _, versions = api.call("GET", "/versions", expect=200)
        build_standin_mirror(args.source_dir, os.path.join(work, "kubernetes"),
                             [v["version"] for v in versions["items"]])
        api.call("POST", "/teams", {"name": "e2e"}, expect=201)
        api.call("PUT", "/teams/e2e/quota", {"limits": {"physical_hosts": 2, "vcpus": 64,
                                                        "memory_gib": 64}}, expect=200)
        wait_ssh(key, bare_port, work, 500 * SCALE)
        times["bare_host_boot"] = time.monotonic() - t
        log(f"bare host {bare} answers SSH on 127.0.0.1:{bare_port} after "
            f"{times['bare_host_boot']:.1f} s")
        api.call("POST", "/hosts", {"name": "pm-1", "address": f"127.0.0.1:{bare_port}",
                                    "vcpus": 2, "memory_gib": 2}, expect=201)
        wait_ssh(key, bare2_port, work, 500 * SCALE)
        api.call("POST", "/hosts", {"name": "pm-2", "address": f"127.0.0.1:{bare2_port}",
                                    "vcpus": 2, "memory_gib": 2}, expect=201)

        if args.three_masters:
            three_master_create(api, key, work, times, current)
        else:
            lifecycle_checks(api, key, work, pool, (bare, bare_port), bare2_port, times,
                             current)
        print("TIMES " + json.dumps({k: round(v, 1) for k, v in times.items()}), flush=True)
        ok = True
    finally:
        kaasd.terminate()
        try:
            kaasd.wait(30)
        except subprocess.TimeoutExpired:
            kaasd.kill()
        # Never leave guests or volumes behind, whatever happened above.
        for d in virsh("list", "--all", "--name", check=False).stdout.split():
            if (current["cluster"] and current["cluster"] in d) or d in (bare, bare2):
                virsh("destroy", d, check=False)
                virsh("undefine", d, check=False)
        if virsh("pool-info", pool, check=False).returncode == 0:
            for line in virsh("vol-list", pool, check=False).stdout.splitlines()[2:]:
                if line.split():
                    virsh("vol-delete", line.split()[0], "--pool", pool, check=False)
            virsh("pool-destroy", pool, check=False)
            virsh("pool-undefine", pool, check=False)
        if not ok:
            print(f"--- kaasd log (last lines), work dir {work} ---", file=sys.stderr)
            with open(kaasd_log.name) as f:
                sys.stderr.write("".join(f.readlines()[-40:]))
            for c in sorted(os.listdir(os.path.join(work, "console")) if os.path.isdir(
                    os.path.join(work, "console")) else []):
                print(f"--- console {c} (last lines) ---", file=sys.stderr)
                with open(os.path.join(work, "console", c), errors="replace") as f:
                    sys.stderr.write("".join(f.readlines()[-15:]))
        if ok and not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
