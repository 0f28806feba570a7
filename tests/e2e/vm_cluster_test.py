#!/usr/bin/env python3
"""VM end-to-end test: a `personal` cluster (1 master + 1 worker) as real QEMU guests.

kaasd is started with one real hypervisor (qemu:///system through a running libvirtd) and the
Ansible bootstrapper. The test creates the cluster, checks that Ansible really ran (the step
messages are not "simulated") and that etcd answers on the master, deletes the cluster and
checks that libvirt holds nothing of it. Fails loudly when libvirtd cannot be reached.
Prints the wall times it measured (docs/real-vms.md).
"""
import argparse
import json
import os
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


def main():
    # ctest's timeout (and a human's kill) must still run the cleanup in `finally`.
    signal.signal(signal.SIGTERM, lambda *_: fail("terminated (timeout?)"))
    signal.signal(signal.SIGINT, lambda *_: fail("interrupted"))
    ap = argparse.ArgumentParser()
    ap.add_argument("--kaasd", required=True)
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--cache-dir", required=True)
    ap.add_argument("--keep", action="store_true", help="keep the work dir (debugging)")
    args = ap.parse_args()

    # 0. libvirtd must be there: a missing daemon is a failure, not a skip.
    r = subprocess.run(["virsh", "-c", URI, "version"], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"libvirtd is not reachable at {URI} (.ci/run starts it): {r.stderr.strip()}")
    for tool in ("ansible-playbook", "genisoimage", "qemu-system-x86_64", "ssh-keygen"):
        if not shutil.which(tool):
            fail(f"{tool} is not installed (scripts/install-deps.sh)")

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
    key = os.path.join(work, "id_ed25519")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    pool = "kaas-e2e-" + os.path.basename(work).split(".")[-1].lower()
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
kubernetes_install: false
vm_pool_name: {pool}
vm_pool_dir: {work}/pool
vm_console_dir: {work}/console
vm_boot_timeout_seconds: 400
vm_max_vcpus: 1
vm_max_memory_mib: 768
ansible_timeout_seconds: 400
hypervisors:
  - {{name: hv-local, uri: "{URI}", vcpus: 64, memory_gib: 256}}
""")
    env = dict(os.environ, KAAS_ADMIN_PASSWORD=PASSWORD)
    kaasd_log = open(os.path.join(work, "kaasd.log"), "w")
    kaasd = subprocess.Popen([args.kaasd, "--config", config], stdout=kaasd_log,
                             stderr=subprocess.STDOUT, env=env)
    cluster_id = None
    api = Api(f"http://127.0.0.1:{port}")
    ok = False
    try:
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
        api.call("POST", "/teams", {"name": "e2e"}, expect=201)

        # 2. Create: 1 master + 1 worker as real VMs, bootstrapped by Ansible.
        t = time.monotonic()
        _, created = api.call("POST", "/clusters", {
            "name": "vm-e2e", "team": "e2e", "purpose": "personal",
            "workers": {"count": 1, "kind": "vm"}}, expect=202)
        cluster_id = created["cluster"]["id"]
        log(f"creating cluster {cluster_id}")
        op = wait_operation(api, created["operation"]["id"], 700)
        times["create"] = time.monotonic() - t
        if op["state"] != "succeeded":
            fail(f"create ended {op['state']}: {op.get('error')}")
        log(f"cluster created in {times['create']:.1f} s")

        msgs = {s["name"]: s.get("message", "") for s in op["steps"]}
        boot = [m for n, m in msgs.items() if "bootstrap" in n or "join" in n]
        if not boot or any("simulated" in m for m in boot):
            fail(f"bootstrap steps did not run Ansible for real: {boot}")
        if not all("ansible-playbook" in m and "failed=0" in m for m in boot):
            fail(f"bootstrap step messages lack a clean PLAY RECAP: {boot}")
        if not any("kubernetes_install is false" in m for m in boot):
            fail(f"skipped Kubernetes tasks are not reported: {boot}")

        doms = [d for d in virsh("list", "--all", "--name").stdout.split() if cluster_id in d]
        if len(doms) != 2:
            fail(f"expected 2 domains of {cluster_id}, virsh lists {doms}")

        # 3. etcd answers on the master (plain HTTP on the guest's loopback; no TLS yet).
        _, cluster = api.call("GET", f"/clusters/{cluster_id}", expect=200)
        master = next(n for n in cluster["nodes"] if n["role"] == "master")
        dom = f"kaas-{cluster_id}-{master['name']}"
        xml = virsh("dumpxml", dom).stdout
        ssh_port = int(xml.split("<ssh_port>")[1].split("<")[0])
        r = subprocess.run(["ssh", "-i", key, "-p", str(ssh_port), "-o", "BatchMode=yes",
                            "-o", "StrictHostKeyChecking=no",
                            "-o", f"UserKnownHostsFile={work}/known_hosts",
                            "kaas@127.0.0.1",
                            "etcdctl --endpoints=http://127.0.0.1:2379 endpoint health && "
                            "etcdctl --endpoints=http://127.0.0.1:2379 member list"],
                           capture_output=True, text=True, timeout=120)
        log(f"etcd on {master['name']}: {r.stdout.strip()} {r.stderr.strip()}")
        if r.returncode != 0 or "is healthy" not in (r.stdout + r.stderr):
            fail(f"etcd does not answer on the master: {r.stdout} {r.stderr}")

        # 4. Delete: nothing of the cluster is left in libvirt.
        t = time.monotonic()
        _, deleted = api.call("DELETE", f"/clusters/{cluster_id}", expect=202)
        op = wait_operation(api, deleted["operation"]["id"], 300)
        times["delete"] = time.monotonic() - t
        if op["state"] != "succeeded":
            fail(f"delete ended {op['state']}: {op.get('error')}")
        left = [d for d in virsh("list", "--all", "--name").stdout.split() if cluster_id in d]
        vols = [v for v in virsh("vol-list", pool).stdout.splitlines() if cluster_id in v]
        if left or vols:
            fail(f"left behind after delete: domains {left}, volumes {vols}")
        log(f"cluster deleted in {times['delete']:.1f} s; virsh shows nothing of it")
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
            if cluster_id and cluster_id in d:
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
                sys.stderr.write("".join(f.readlines()[-30:]))
            for c in sorted(os.listdir(os.path.join(work, "console")) if os.path.isdir(
                    os.path.join(work, "console")) else []):
                print(f"--- console {c} (last lines) ---", file=sys.stderr)
                with open(os.path.join(work, "console", c), errors="replace") as f:
                    sys.stderr.write("".join(f.readlines()[-15:]))
        if ok and not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
