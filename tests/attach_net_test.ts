// Attach tests for networking programs with real traffic: XDP and tcx on a veth pair whose peer
// lives in a network namespace the test makes, a socket filter on a UDP socket, cgroup_skb in a
// cgroup the test makes (link and PROG_ATTACH), plus BPF_PROG_TEST_RUN.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmdirSync, statSync } from "node:fs";
import process from "node:process";
import { test } from "node:test";
import { BpfError } from "../errors.ts";
import { progTestRun } from "../ffi/bpf.ts";
import { BpfLinkType } from "../ffi/constants.ts";
import { getSys } from "../ffi/runtime.ts";
import type { BpfObject } from "../live/object.ts";
import {
  attachCgroup,
  attachNetns,
  attachSocketFilter,
  attachSockmap,
  attachTcFilter,
  attachTcx,
  attachXdp,
  attachXdpNetlink,
} from "../link/mod.ts";
import { arrayU64, linksOfPrograms, loadObject } from "./_attach.ts";
import { kernelAtLeast, newFds, note, openFds, requireKernel, skip } from "./_util.ts";

const C_XDP_A = 0, C_XDP_B = 1, C_TCX = 2, C_SOCKET = 3, C_CGROUP_EGRESS = 4;

/** `bpftool cgroup show CG`'s output; fails the test when bpftool fails (an empty output is no proof). */
function cgroupShow(cg: string): string {
  const r = spawnSync("bpftool", ["cgroup", "show", cg], { encoding: "utf8" });
  assert.equal(r.status, 0, `bpftool cgroup show ${cg} failed: ${r.stderr}`);
  return r.stdout;
}

function sh(cmd: string): string {
  const r = spawnSync("bash", ["-c", cmd], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  return r.stdout;
}

const N = process.pid % 250;
const NS = `tsbpf-att-${process.pid}`;
const HOST = `tah${process.pid % 1000000}`;
const PEER = `tap${process.pid % 1000000}`;
const HOST_IP = `10.213.${N}.1`;

/** Makes the veth pair (HOST here, PEER in NS) and returns its remover. */
function makeVeth(): () => void {
  sh(`ip netns add ${NS}`);
  const remove = () => {
    spawnSync("ip", ["link", "del", HOST]);
    spawnSync("ip", ["netns", "del", NS]);
  };
  try {
    sh(`ip link add ${HOST} type veth peer name ${PEER} netns ${NS}`);
    sh(`ip addr add ${HOST_IP}/24 dev ${HOST} && ip link set ${HOST} up`);
    sh(`ip -n ${NS} addr add 10.213.${N}.2/24 dev ${PEER} && ip -n ${NS} link set ${PEER} up`);
  } catch (e) {
    remove();
    throw e;
  }
  return remove;
}

/** Sends `n` UDP datagrams from the namespace to the host side of the pair. */
function trafficFromPeer(n: number): void {
  sh(
    `ip netns exec ${NS} bash -c 'for i in $(seq ${n}); do echo hi > /dev/udp/${HOST_IP}/9; done'`,
  );
}

function prog(obj: BpfObject, name: string) {
  const spec = obj.spec.programs.find((p) => p.name === name)!;
  return { fd: obj.program(name).fd, name, section: spec.section, spec };
}

test("an XDP link on a veth sees the peer's packets, follows update() and stops at close()", (t) => {
  if (!requireKernel(t)) return;
  using obj = loadObject("attach_net");
  const remove = makeVeth();
  try {
    const ifindex = getSys().ifNameToIndex(HOST);
    const link = attachXdp(prog(obj, "xdp_count_a"), HOST);
    try {
      assert.equal(link.info().type, BpfLinkType.BPF_LINK_TYPE_XDP);
      assert.equal(link.info().raw.get("xdp.ifindex"), ifindex);
      trafficFromPeer(5);
      assert.ok(arrayU64(obj, "counts", C_XDP_A) >= 5n);
      assert.throws(
        () => attachXdp(prog(obj, "xdp_count_b"), HOST),
        (e) => e instanceof BpfError && /another XDP program is attached/.test(e.message),
      );
      link.update(prog(obj, "xdp_count_b"));
      const a = arrayU64(obj, "counts", C_XDP_A);
      trafficFromPeer(3);
      assert.equal(arrayU64(obj, "counts", C_XDP_A), a);
      assert.ok(arrayU64(obj, "counts", C_XDP_B) >= 3n);
    } finally {
      link.close();
    }
    const b = arrayU64(obj, "counts", C_XDP_B);
    trafficFromPeer(2);
    assert.equal(arrayU64(obj, "counts", C_XDP_B), b);
  } finally {
    remove();
  }
});

test("a tcx ingress link counts the peer's packets and goes with close()", (t) => {
  if (!requireKernel(t)) return;
  using obj = loadObject("attach_net");
  const remove = makeVeth();
  try {
    if (!kernelAtLeast(6, 6)) {
      // tcx links came with Linux 6.6: an older kernel refuses, with a typed error.
      assert.throws(() => attachTcx(obj.program("tcx_count"), HOST), BpfError);
      note("tcx links need Linux 6.6; this kernel refuses them with a BpfError");
      return;
    }
    // A BpfProgram as it is (no spec): the direction comes from its loaded attach type.
    const link = attachTcx(obj.program("tcx_count"), HOST);
    try {
      assert.equal(link.info().type, BpfLinkType.BPF_LINK_TYPE_TCX);
      assert.equal(link.target, `${HOST} ingress`);
      trafficFromPeer(4);
      assert.ok(arrayU64(obj, "counts", C_TCX) >= 4n);
    } finally {
      link.close();
    }
    assert.deepEqual(linksOfPrograms([obj.program("tcx_count").info().id]), []);
  } finally {
    remove();
  }
});

test("BPF_PROG_TEST_RUN runs the XDP program on a made-up frame", (t) => {
  if (!requireKernel(t)) return;
  using obj = loadObject("attach_net");
  const frame = new Uint8Array(64);
  frame.set([0x08, 0x00], 12);
  const before = arrayU64(obj, "counts", C_XDP_A);
  const r = progTestRun(obj.program("xdp_count_a").fd, { dataIn: frame, repeat: 3 });
  assert.equal(r.retval, 2); // XDP_PASS
  assert.equal(arrayU64(obj, "counts", C_XDP_A) - before, 3n);
});

test("a socket filter on a UDP socket sees datagrams sent to it until close() detaches it", (t) => {
  if (!requireKernel(t)) return;
  using obj = loadObject("attach_net");
  const sys = getSys();
  const sock = sys.socket(2, /* AF_INET */ 2, /* SOCK_DGRAM */ 0);
  try {
    const port = 20000 + (process.pid % 30000);
    const addr = new Uint8Array(16);
    addr.set([2, 0, port >> 8, port & 0xff, 127, 0, 0, 1]);
    sys.bind(sock, addr);
    const send = (n: number) =>
      sh(`for i in $(seq ${n}); do echo hi > /dev/udp/127.0.0.1/${port}; done`);
    const link = attachSocketFilter(prog(obj, "socket_count"), sock);
    assert.equal(link.isBpfLink, false);
    assert.throws(() => link.pin("/sys/fs/bpf/nope"), /not a kernel bpf_link/);
    send(3);
    assert.equal(arrayU64(obj, "counts", C_SOCKET), 3n);
    link.close();
    link.close();
    send(2);
    assert.equal(arrayU64(obj, "counts", C_SOCKET), 3n);
  } finally {
    sys.close(sock);
  }
});

function cgroup2Root(): string | undefined {
  for (const line of readFileSync("/proc/mounts", "utf8").split("\n")) {
    const f = line.split(" ");
    if (f[2] === "cgroup2") return f[1];
  }
  return undefined;
}

for (const legacy of [false, true]) {
  test(
    `cgroup_skb/egress ${
      legacy ? "with BPF_PROG_ATTACH" : "with a cgroup link"
    } counts packets of a process moved into a new cgroup, and close() detaches it`,
    (t) => {
      if (!requireKernel(t)) return;
      const root = cgroup2Root();
      if (root === undefined) {
        skip(t, "no cgroup2 mount on this machine");
        return;
      }
      using obj = loadObject("attach_net");
      const cg = `${root}/tsbpf-att-${process.pid}-${legacy ? "legacy" : "link"}`;
      mkdirSync(cg);
      try {
        const fds = openFds();
        const send = () =>
          sh(
            `echo $$ > ${cg}/cgroup.procs && for i in 1 2 3; do echo hi > /dev/udp/127.0.0.1/9; done`,
          );
        const link = attachCgroup(prog(obj, "cgroup_egress_count"), cg, { legacy });
        assert.equal(link.isBpfLink, !legacy);
        send();
        assert.ok(arrayU64(obj, "counts", C_CGROUP_EGRESS) >= 3n);
        link.close();
        const n = arrayU64(obj, "counts", C_CGROUP_EGRESS);
        send();
        assert.equal(arrayU64(obj, "counts", C_CGROUP_EGRESS), n);
        // Only kernel objects tsbpf makes: Bun's child-process plumbing for sh() may leave a
        // socket of its own open for a while, which says nothing about tsbpf.
        assert.deepEqual(newFds(fds).filter((f) => !/ -> socket:/.test(f)), []);
        assert.doesNotMatch(cgroupShow(cg), /cgroup_egress/);
      } finally {
        if (existsSync(cg)) rmdirSync(cg);
      }
    },
  );
}

test("sk_lookup and flow_dissector links on the test namespace; sk_lookup sees a datagram sent into it", (t) => {
  if (!requireKernel(t)) return;
  using obj = loadObject("attach_netns");
  const remove = makeVeth();
  try {
    const nsPath = `/run/netns/${NS}`;
    using lookup = attachNetns(prog(obj, "lookup_count"), nsPath);
    using dissect = attachNetns(prog(obj, "dissect_count"), nsPath);
    for (const l of [lookup, dissect]) {
      assert.equal(l.info().type, BpfLinkType.BPF_LINK_TYPE_NETNS);
      assert.equal(l.info().raw.get("netns.netns_ino"), statSync(nsPath).ino);
    }
    sh(`echo hi > /dev/udp/10.213.${N}.2/9`);
    assert.ok(arrayU64(obj, "ns_counts", 0) >= 1n);
  } finally {
    remove();
  }
});

test("an sk_msg program attaches to a sockhash and detaches at close()", (t) => {
  if (!requireKernel(t)) return;
  using obj = loadObject("attach_netns");
  const link = attachSockmap(prog(obj, "msg_pass"), obj.map("ns_sock_hash").fd);
  const id = obj.program("msg_pass").info().id;
  assert.equal(linksOfPrograms([id]).length, link.isBpfLink ? 1 : 0);
  link.close();
  assert.deepEqual(linksOfPrograms([id]), []);
});

test("a clsact bpf filter over rtnetlink counts the peer's packets; close() removes filter and qdisc", (t) => {
  if (!requireKernel(t)) return;
  using obj = loadObject("attach_net");
  const remove = makeVeth();
  try {
    const link = attachTcFilter(prog(obj, "tcx_count"), HOST, "ingress");
    try {
      assert.match(sh(`tc filter show dev ${HOST} ingress`), /bpf .*tcx_count.*direct-action/);
      assert.throws(
        () => attachTcFilter(prog(obj, "tcx_count"), HOST, "ingress"),
        (e) => e instanceof BpfError && /EEXIST/.test(e.message),
      );
      trafficFromPeer(4);
      assert.ok(arrayU64(obj, "counts", C_TCX) >= 4n);
    } finally {
      link.close();
    }
    assert.equal(sh(`tc filter show dev ${HOST} ingress`).trim(), "");
    assert.doesNotMatch(sh(`tc qdisc show dev ${HOST}`), /clsact/);
  } finally {
    remove();
  }
});

test("a PROG_ATTACH cgroup link still detaches after the object that loaded the program is closed", (t) => {
  if (!requireKernel(t)) return;
  const root = cgroup2Root();
  if (root === undefined) {
    skip(t, "no cgroup2 mount on this machine");
    return;
  }
  const cg = `${root}/tsbpf-att-${process.pid}-order`;
  mkdirSync(cg);
  try {
    const obj = loadObject("attach_net");
    const link = attachCgroup(prog(obj, "cgroup_egress_count"), cg, { legacy: true });
    obj.close();
    assert.match(cgroupShow(cg), /egress/);
    link.close();
    assert.doesNotMatch(cgroupShow(cg), /egress/);
  } finally {
    if (existsSync(cg)) rmdirSync(cg);
  }
});

test("an XDP program attached over netlink counts the peer's packets and close() removes only it", (t) => {
  if (!requireKernel(t)) return;
  using obj = loadObject("attach_net");
  const remove = makeVeth();
  try {
    const link = attachXdpNetlink(prog(obj, "xdp_count_a"), HOST);
    try {
      assert.match(sh(`ip link show dev ${HOST}`), /xdp/);
      assert.throws(
        () => attachXdpNetlink(prog(obj, "xdp_count_b"), HOST),
        (e) => e instanceof BpfError && /another XDP program/.test(e.message),
      );
      trafficFromPeer(4);
      assert.ok(arrayU64(obj, "counts", C_XDP_A) >= 4n);
    } finally {
      link.close();
    }
    assert.doesNotMatch(sh(`ip link show dev ${HOST}`), /prog\/xdp/);
  } finally {
    remove();
  }
});
