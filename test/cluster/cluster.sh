#!/usr/bin/env bash
# A real two-node Kubernetes cluster on this machine, for end-to-end tests and for trying the
# chart by hand. Everything comes from the package registries: Kubernetes from the Go module
# proxy (test/controlplane/build.sh, test/cluster/build.sh), CoreDNS from its Go module
# (test/coredns/build.sh), containerd, runc and the CNI plugins from Debian.
#
#   cluster.sh up      start it (or find it running); prints the KUBECONFIG line and returns
#   cluster.sh down    stop it and remove everything it made
#   cluster.sh status  exit 0 when it is up and both nodes are Ready
#   cluster.sh load F  import an image archive into both nodes' containerd
#   cluster.sh env     print the export lines (KUBECONFIG, PATH with kubectl/helm, the netns)
#
# Layout: every address lives in network namespaces this script creates; nothing touches the
# host's own interfaces.
#   netns dnssync-cl   etcd (127.0.0.1), kube-apiserver, controller-manager and scheduler;
#                      bridge br0 10.200.0.1/24 that the nodes hang off
#   netns dnssync-n1   node n1: eth0 10.200.0.11, its own containerd (root, state, socket),
#                      kubelet (own root dir, cgroup root /dnssync-cluster/n1), kube-proxy,
#                      CNI bridge cni0 with pods in 10.244.1.0/24, masquerading ON
#   netns dnssync-n2   node n2: the same with 10.200.0.12 and 10.244.2.0/24
#   Services 10.96.0.0/16; kube-dns (CoreDNS) at 10.96.0.10.
# Every process runs in a cgroup under /dnssync-cluster (control plane, per-node daemons, and
# the kubelets' pods), so `down` finds each one, including pods and shims.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

STATE="${DNSSYNC_CLUSTER_DIR:-/run/dnssync-cluster}"
CL=dnssync-cl
NODES=(n1 n2)
CGROOT=dnssync-cluster
BRIDGE_IP=10.200.0.1
SERVICE_CIDR=10.96.0.0/16
CLUSTER_CIDR=10.244.0.0/16
DNS_IP=10.96.0.10
PAUSE_REF=dnssync.local/pause:1
COREDNS_REF=dnssync.local/coredns:1
TOOLS_REF=dnssync.local/tools:1
# Global kernel settings the kubelet changes (it sets them to its defaults at start).
SYSCTLS=(vm.overcommit_memory kernel.panic kernel.panic_on_oops)

node_index() { echo "${1#n}"; }
node_ip() { echo "10.200.0.1$(node_index "$1")"; }
node_pod_cidr() { echo "10.244.$(node_index "$1").0/24"; }
ns_path() { echo "/run/netns/$1"; }
in_ns() { local ns=$1; shift; nsenter --net="$(ns_path "$ns")" -- "$@"; }

step=0
total=9
progress() { step=$((step + 1)); echo "[cluster $step/$total] $*" >&2; }
say() { echo "    $*" >&2; }
die() { echo "cluster: $*" >&2; exit 1; }

# Polls CMD until it succeeds or SECONDS pass (then fails naming DESC). Gives up at once when
# a daemon named in $GUARD (space-separated) has exited.
GUARD=""
wait_for() {
  local desc=$1 secs=$2 g; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || { echo "cluster: timed out after ${secs}s waiting for $desc" >&2; return 1; }
    for g in $GUARD; do need_alive "$g" || return 1; done
    sleep 0.5
  done
}

# --- cgroups (v1 hierarchies on this machine; v2 handled the same way on a unified mount) ---
cg_hierarchies() {
  local d
  for d in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
    [ -f "$d/cgroup.procs" ] && echo "${d%/}"
  done | sort -u
}
cg_make() {
  local path=$1 h sub cur
  for h in $(cg_hierarchies); do
    cur=$h
    for sub in ${path//\// }; do
      if [ ! -d "$cur/$sub" ]; then
        mkdir "$cur/$sub"
        # cpuset children start empty and refuse tasks until they inherit cpus and mems.
        if [ -f "$cur/$sub/cpuset.cpus" ]; then
          cat "$cur/cpuset.cpus" >"$cur/$sub/cpuset.cpus"
          cat "$cur/cpuset.mems" >"$cur/$sub/cpuset.mems"
        fi
      fi
      cur=$cur/$sub
    done
  done
}
cg_join() {
  local path=$1 pid=$2 h
  for h in $(cg_hierarchies); do echo "$pid" >"$h/$path/cgroup.procs"; done
}
# Every PID in the cgroup tree, from the pids hierarchy (or the first one there is).
cg_pids() {
  local h
  h=$( [ -d /sys/fs/cgroup/pids ] && echo /sys/fs/cgroup/pids || cg_hierarchies | head -1)
  [ -d "$h/$CGROOT" ] || return 0
  find "$h/$CGROOT" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u
}

# --- processes ------------------------------------------------------------------------------
# launch NAME NETNS CGROUP CMD...: a daemon in its own session, in the netns and cgroup,
# logging to $STATE/logs/NAME.log. nsenter and setsid exec in place, so the PID is the daemon.
launch() {
  local name=$1 ns=$2 cg=$3; shift 3
  cg_make "$CGROOT/$cg"
  (
    cg_join "$CGROOT/$cg" "$BASHPID"
    # Daemons outlive the command that started them: they must not keep its open files, above
    # all the fd of `flock /tmp/dnssync-cluster.lock`, or the lock stays held while the
    # cluster is up and the next flock waits for ever.
    local fd
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec nsenter --net="$(ns_path "$ns")" -- setsid "$@"
  ) >"$STATE/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/pids/$name"
}
pid_of() { [ -f "$STATE/pids/$1" ] && cat "$STATE/pids/$1"; }
alive() { local p; p=$(pid_of "$1") && kill -0 "$p" 2>/dev/null; }
# stop NAME SECS: SIGTERM, wait, then SIGKILL.
stop() {
  local name=$1 secs=${2:-15} p
  p=$(pid_of "$name") || return 0
  if kill -0 "$p" 2>/dev/null; then
    kill -TERM "$p" 2>/dev/null || true
    local deadline=$((SECONDS + secs))
    while kill -0 "$p" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    kill -KILL "$p" 2>/dev/null || true
  fi
  rm -f "$STATE/pids/$name"
}
need_alive() {
  alive "$1" || { echo "cluster: $1 exited; last lines of $STATE/logs/$1.log:" >&2; tail -20 "$STATE/logs/$1.log" >&2; return 1; }
}

# --- teardown -------------------------------------------------------------------------------
down() {
  trap - INT TERM EXIT
  # Best effort from here on: one step failing must not leave the rest behind.
  set +e
  [ -d "$STATE" ] || [ -e "$(ns_path $CL)" ] || [ -d "/sys/fs/cgroup/pids/$CGROOT" ] || { say "nothing to remove"; return 0; }
  echo "[cluster down] stopping kubelets, kube-proxies and controllers before the API server" >&2
  local n netns_list=""
  # The pods' network namespaces, read from containerd before it stops (a sandbox whose
  # process died still holds its netns mount).
  for n in "${NODES[@]}"; do
    if [ -S "$STATE/$n/containerd.sock" ]; then
      netns_list+=" $(ctr -a "$STATE/$n/containerd.sock" -n k8s.io containers ls -q 2>/dev/null |
        while read -r id; do ctr -a "$STATE/$n/containerd.sock" -n k8s.io containers info "$id" 2>/dev/null; done |
        grep -o '/var/run/netns/cni-[0-9a-f-]*' | sort -u | tr '\n' ' ')"
    fi
  done
  # In parallel; `wait` names the stoppers, since a bare wait would also wait for the
  # daemons themselves when `up` (their parent) is the one tearing down.
  local stoppers=()
  for n in "${NODES[@]}"; do
    stop "kubelet-$n" 20 & stoppers+=($!)
    stop "kube-proxy-$n" 10 & stoppers+=($!)
  done
  stop kube-controller-manager 10 & stoppers+=($!)
  stop kube-scheduler 10 & stoppers+=($!)
  wait "${stoppers[@]}"
  # Pods and shims: everything left in the nodes' cgroups.
  local pids round
  for round in 1 2 3 4 5 6 7 8 9 10; do
    pids=$(for n in "${NODES[@]}"; do
      for h in /sys/fs/cgroup/pids/$CGROOT/$n /sys/fs/cgroup/pids/$CGROOT/$n-system; do
        [ -d "$h" ] && find "$h" -name cgroup.procs -exec cat {} + 2>/dev/null
      done
    done | grep -vx "$(pid_of containerd-n1 2>/dev/null || echo x)" | grep -vx "$(pid_of containerd-n2 2>/dev/null || echo x)" || true)
    [ -z "$pids" ] && break
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.3
  done
  for n in "${NODES[@]}"; do stop "containerd-$n" 10; done
  stop kube-apiserver 20
  stop etcd 10
  # Anything else still in our cgroups (a process started by a step that failed half-way).
  for round in 1 2 3 4 5 6 7 8 9 10; do
    pids=$(cg_pids)
    [ -z "$pids" ] && break
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.3
  done
  echo "[cluster down] unmounting, removing namespaces, cgroups and state" >&2
  # Mounts under the state directory (containerd snapshots, kubelet volumes, shm), deepest first.
  local m
  for round in 1 2 3; do
    for m in $(awk -v s="$STATE/" 'index($5, s) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
  done
  for m in $netns_list; do
    [ -e "$m" ] && { umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; rm -f "$m"; }
  done
  for n in "${NODES[@]}"; do
    [ -e "$(ns_path "dnssync-$n")" ] && ip netns delete "dnssync-$n" 2>/dev/null || true
  done
  [ -e "$(ns_path $CL)" ] && ip netns delete $CL 2>/dev/null || true
  # cgroups, deepest first, in every hierarchy.
  local h
  for h in $(cg_hierarchies); do
    [ -d "$h/$CGROOT" ] && find "$h/$CGROOT" -depth -type d -exec rmdir {} + 2>/dev/null || true
    [ -d "$h/$CGROOT" ] && say "cgroup $h/$CGROOT could not be removed (busy)"
  done
  if [ -f "$STATE/sysctl.saved" ]; then
    while IFS='=' read -r k v; do sysctl -q -w "$k=$v" >/dev/null || say "could not restore $k=$v"; done <"$STATE/sysctl.saved"
    say "restored $(tr '\n' ' ' <"$STATE/sysctl.saved")"
  fi
  # Keep the logs (handy after a failure); drop everything else.
  if [ -d "$STATE" ]; then
    rm -rf "${STATE}.logs" && mv "$STATE/logs" "${STATE}.logs" 2>/dev/null || true
    rm -rf "$STATE"
    say "logs kept in ${STATE}.logs"
  fi
  echo "[cluster down] done" >&2
}

# --- bring-up pieces ------------------------------------------------------------------------
setup_network() {
  ip netns add $CL
  in_ns $CL ip link set lo up
  in_ns $CL ip link add br0 type bridge
  in_ns $CL ip addr add $BRIDGE_IP/24 dev br0
  in_ns $CL ip link set br0 up
  local n ip
  for n in "${NODES[@]}"; do
    ip=$(node_ip "$n")
    ip netns add "dnssync-$n"
    in_ns "dnssync-$n" ip link set lo up
    in_ns $CL ip link add "v-$n" type veth peer name eth0 netns "dnssync-$n"
    in_ns $CL ip link set "v-$n" master br0 up
    in_ns "dnssync-$n" ip addr add "$ip/24" dev eth0
    in_ns "dnssync-$n" ip link set eth0 up
    # The default route (to the control plane namespace) also carries the Service CIDR, so
    # host-network pods reach ClusterIPs: a namespace has no route at all otherwise.
    in_ns "dnssync-$n" ip route add default via $BRIDGE_IP
    in_ns "dnssync-$n" sysctl -q -w net.ipv4.ip_forward=1
    in_ns "dnssync-$n" sysctl -q -w net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true
    in_ns $CL ip route add "$(node_pod_cidr "$n")" via "$ip"
  done
  # Pod-to-pod across nodes: each node routes the other's pod CIDR to it directly.
  local a b
  for a in "${NODES[@]}"; do for b in "${NODES[@]}"; do
    [ "$a" = "$b" ] || in_ns "dnssync-$a" ip route add "$(node_pod_cidr "$b")" via "$(node_ip "$b")"
  done; done
}

# A certificate signed by the cluster CA. cert NAME SUBJECT [SANS]
cert() {
  local name=$1 subj=$2 sans=${3:-} ext
  ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=${sans:+serverAuth,}clientAuth${sans:+
subjectAltName=$sans}"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$name.key" 2>/dev/null
  openssl req -new -key "$name.key" -subj "$subj" -out "$name.csr" 2>/dev/null
  printf '%s\n' "$ext" >"$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -set_serial "0x$(openssl rand -hex 16)" \
    -days 3650 -extfile "$name.ext" -out "$name.crt" 2>/dev/null
}
kubeconfig() {
  local name=$1 out=$2
  cat >"$out" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: dnssync
  cluster:
    server: https://$BRIDGE_IP:6443
    certificate-authority: $STATE/pki/ca.crt
users:
- name: $name
  user:
    client-certificate: $STATE/pki/$name.crt
    client-key: $STATE/pki/$name.key
contexts:
- name: dnssync
  context: {cluster: dnssync, user: $name}
current-context: dnssync
EOF
}
setup_pki() {
  mkdir -p "$STATE/pki"
  (
    cd "$STATE/pki"
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key 2>/dev/null
    openssl req -x509 -new -key ca.key -subj /CN=dnssync-cluster-ca -days 3650 -out ca.crt \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign,digitalSignature 2>/dev/null
    # Pods reach the API server as 10.96.0.1 (the kubernetes Service) and verify that name.
    cert apiserver /CN=kube-apiserver "IP:$BRIDGE_IP,IP:10.96.0.1,IP:127.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    cert admin "/O=system:masters/CN=kubernetes-admin"
    cert kube-controller-manager /CN=system:kube-controller-manager
    cert kube-scheduler /CN=system:kube-scheduler
    cert kube-proxy /CN=system:kube-proxy
    local n
    for n in "${NODES[@]}"; do cert "kubelet-$n" "/O=system:nodes/CN=system:node:$n"; done
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out sa.key 2>/dev/null
    openssl pkey -in sa.key -pubout -out sa.pub 2>/dev/null
    rm -f ./*.csr ./*.ext
  )
  kubeconfig admin "$STATE/admin.kubeconfig"
  kubeconfig kube-controller-manager "$STATE/pki/kube-controller-manager.kubeconfig"
  kubeconfig kube-scheduler "$STATE/pki/kube-scheduler.kubeconfig"
  kubeconfig kube-proxy "$STATE/pki/kube-proxy.kubeconfig"
  local n
  for n in "${NODES[@]}"; do kubeconfig "kubelet-$n" "$STATE/pki/kubelet-$n.kubeconfig"; done
}

start_control_plane() {
  mkdir -p "$STATE/etcd"
  launch etcd $CL control "$CP/etcd" --data-dir "$STATE/etcd" --name dnssync \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster dnssync=http://127.0.0.1:2380 --unsafe-no-fsync --log-level warn
  local p=$STATE/pki
  launch kube-apiserver $CL control "$CP/kube-apiserver" \
    --etcd-servers=http://127.0.0.1:2379 \
    --bind-address=$BRIDGE_IP --advertise-address=$BRIDGE_IP --secure-port=6443 \
    --tls-cert-file="$p/apiserver.crt" --tls-private-key-file="$p/apiserver.key" \
    --client-ca-file="$p/ca.crt" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$p/sa.pub" --service-account-signing-key-file="$p/sa.key" \
    --service-cluster-ip-range=$SERVICE_CIDR \
    --authorization-mode=Node,RBAC --allow-privileged=true \
    --enable-admission-plugins=NodeRestriction \
    --kubelet-preferred-address-types=InternalIP \
    --cert-dir="$STATE/apiserver-certs"
  GUARD="etcd kube-apiserver" wait_for "kube-apiserver /readyz (log: $STATE/logs/kube-apiserver.log)" 120 \
    in_ns $CL "$CP/kubectl" --kubeconfig "$STATE/admin.kubeconfig" get --raw /readyz
  launch kube-controller-manager $CL control "$NB/kube-controller-manager" \
    --kubeconfig="$p/kube-controller-manager.kubeconfig" \
    --authentication-kubeconfig="$p/kube-controller-manager.kubeconfig" \
    --authorization-kubeconfig="$p/kube-controller-manager.kubeconfig" \
    --service-account-private-key-file="$p/sa.key" --root-ca-file="$p/ca.crt" \
    --use-service-account-credentials=true --leader-elect=false \
    --service-cluster-ip-range=$SERVICE_CIDR --cluster-cidr=$CLUSTER_CIDR --allocate-node-cidrs=false \
    --bind-address=127.0.0.1 --secure-port=10257
  launch kube-scheduler $CL control "$NB/kube-scheduler" \
    --kubeconfig="$p/kube-scheduler.kubeconfig" \
    --authentication-kubeconfig="$p/kube-scheduler.kubeconfig" \
    --authorization-kubeconfig="$p/kube-scheduler.kubeconfig" \
    --leader-elect=false --bind-address=127.0.0.1 --secure-port=10259
}

# A directory holding the given binaries and every shared library they load (from the host,
# Debian like the nodes), for images that need nothing else.
copy_with_libs() {
  local root=$1 bin lib; shift
  for bin in "$@"; do
    mkdir -p "$root$(dirname "$bin")"
    cp -L "$bin" "$root$bin"
    for lib in $(ldd "$bin" 2>/dev/null | grep -oE '/[^ ]+' | sort -u); do
      [ -e "$root$lib" ] && continue
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    done
  done
}

build_images() {
  local img=$STATE/images r
  mkdir -p "$img"
  r=$(mktemp -d)
  cp "$NB/pause" "$r/pause"
  bash "$repo/deploy/image/oci-archive.sh" "$r" $PAUSE_REF "$img/pause.tar" --config.entrypoint=/pause
  rm -rf "$r"; r=$(mktemp -d)
  mkdir -p "$r/etc/coredns"
  cp "$COREDNS_DIR/coredns" "$r/coredns"
  bash "$repo/deploy/image/oci-archive.sh" "$r" $COREDNS_REF "$img/coredns.tar" --config.entrypoint=/coredns
  # The e2e tests' client pods: real kdig and dig, and pause to keep the container running.
  rm -rf "$r"; r=$(mktemp -d)
  copy_with_libs "$r" "$(command -v kdig)" "$(command -v dig)"
  cp "$NB/pause" "$r/pause"
  mkdir -p "$r/etc" "$r/tmp" && chmod 1777 "$r/tmp"
  printf 'root:x:0:0:root:/:/pause\nnobody:x:65534:65534:nobody:/:/pause\n' >"$r/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
  bash "$repo/deploy/image/oci-archive.sh" "$r" $TOOLS_REF "$img/tools.tar" --config.entrypoint=/pause
  rm -rf "$r"
}

start_node() {
  local n=$1 d=$STATE/$1 ip pod_cidr
  ip=$(node_ip "$n")
  pod_cidr=$(node_pod_cidr "$n")
  cg_make "$CGROOT/$n"
  mkdir -p "$d/containerd/root" "$d/containerd/state" "$d/cni" "$d/cni-ipam" "$d/kubelet" "$d/pod-logs" "$d/volume-plugins"
  cat >"$d/containerd.toml" <<EOF
version = 2
root = "$d/containerd/root"
state = "$d/containerd/state"
[grpc]
  address = "$d/containerd.sock"
[ttrpc]
  address = "$d/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_REF"
  # Root here lacks CAP_SYS_RESOURCE: without this every sandbox fails with "can't get
  # final child's PID from pipe: EOF" (runc cannot lower its oom_score_adj).
  restrict_oom_score_adj = true
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$d/cni"
EOF
  # The bridge plugin with masquerading on, the common default (and the case where a
  # NOTIFY's source address is rewritten). host-local keeps its leases per node.
  cat >"$d/cni/10-dnssync.conflist" <<EOF
{"cniVersion": "0.4.0", "name": "dnssync", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$d/cni-ipam", "ranges": [[{"subnet": "$pod_cidr"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}
]}
EOF
  echo "nameserver $DNS_IP" >"$d/resolv.conf"
  launch "containerd-$n" "dnssync-$n" "$n-system" containerd --config "$d/containerd.toml"
  GUARD="containerd-$n" wait_for "containerd on $n (log: $STATE/logs/containerd-$n.log)" 60 ctr -a "$d/containerd.sock" version
  local t
  for t in "$STATE"/images/*.tar; do
    ctr -a "$d/containerd.sock" -n k8s.io images import --no-unpack=false "$t" >/dev/null
  done
  cat >"$d/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine runs cgroup v1, which kubelet 1.35 refuses unless told; cgroupfs with a
# cgroup root of its own, so these pods never mix with anything else on the machine.
failCgroupV1: false
failSwapOn: false
cgroupDriver: cgroupfs
cgroupRoot: /$CGROOT/$n
cgroupsPerQOS: true
enforceNodeAllocatable: [pods]
containerRuntimeEndpoint: unix://$d/containerd.sock
address: $ip
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
# The API server is the only client and reaches the kubelet only inside these namespaces.
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
clusterDomain: cluster.local
clusterDNS: [$DNS_IP]
# Its own file: the host's nameserver is unreachable from the node namespace.
resolvConf: $d/resolv.conf
podCIDR: $pod_cidr
podLogsDir: $d/pod-logs
volumePluginDir: $d/volume-plugins
# A shared machine: never evict or garbage-collect images because of the host's disk.
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
EOF
  launch "kubelet-$n" "dnssync-$n" "$n-system" "$NB/kubelet" --config="$d/kubelet.yaml" \
    --kubeconfig="$STATE/pki/kubelet-$n.kubeconfig" --root-dir="$d/kubelet" --cert-dir="$d/kubelet/pki" \
    --hostname-override="$n" --node-ip="$ip" --v=1
  cat >"$d/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: {kubeconfig: $STATE/pki/kube-proxy.kubeconfig}
hostnameOverride: $n
clusterCIDR: $CLUSTER_CIDR
bindAddress: $ip
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# Leave the machine-wide conntrack settings alone (another tenant's kernel too).
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
  launch "kube-proxy-$n" "dnssync-$n" "$n-system" "$NB/kube-proxy" --config="$d/kube-proxy.yaml"
}

kctl() { in_ns $CL "$CP/kubectl" --kubeconfig "$STATE/admin.kubeconfig" "$@"; }

start_coredns() {
  sed -e "s|@DNS_IP@|$DNS_IP|g" -e "s|@IMAGE@|$COREDNS_REF|g" "$here/coredns.yaml" | kctl apply -f - >/dev/null
  wait_for "CoreDNS (kube-dns) rollout" 180 kctl -n kube-system rollout status deploy/coredns --timeout=5s
  wait_for "kube-dns answering kubernetes.default.svc.cluster.local at $DNS_IP from n1" 60 \
    in_ns dnssync-n1 kdig +short +time=1 +retry=0 @$DNS_IP kubernetes.default.svc.cluster.local A
}

status() {
  [ -f "$STATE/up" ] || return 1
  local ready
  ready=$(kctl get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null | grep -c True) || true
  [ "$ready" = "${#NODES[@]}" ]
}

print_env() {
  echo "export KUBECONFIG=$STATE/admin.kubeconfig"
  echo "export PATH=$CP:\$PATH"
  echo "# the API server and the nodes live in network namespaces: run clients inside $CL"
  echo "# nsenter --net=$(ns_path $CL) kubectl get nodes -o wide"
  echo "# a shell in it:  nsenter --net=$(ns_path $CL) bash"
}

up() {
  [ "$(id -u)" = 0 ] || die "needs root (network namespaces, cgroups, containerd)"
  CP=$(bash "$repo/test/controlplane/build.sh" --no-build 2>/dev/null | tail -1) || true
  if [ -n "$CP" ] && status; then
    echo "[cluster] already up ($STATE)" >&2
    print_env
    return 0
  fi
  [ -d "$STATE" ] || [ -e "$(ns_path $CL)" ] && { echo "[cluster] a half-started cluster is in the way: removing it first" >&2; down; }
  local start=$SECONDS
  progress "tools: containerd, runc, CNI plugins, iptables, conntrack, umoci, skopeo"
  local missing=()
  local pair
  for pair in containerd:containerd runc:runc ctr:containerd /usr/lib/cni/bridge:containernetworking-plugins \
    iptables:iptables conntrack:conntrack umoci:umoci skopeo:skopeo kdig:knot-dnsutils dig:bind9-dnsutils; do
    if [ "${pair:0:1}" = / ]; then [ -e "${pair%%:*}" ] || missing+=("${pair#*:}")
    else command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}"); fi
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "apt-get install ${missing[*]}"
    # policy-rc.d keeps Debian from starting a system containerd of its own.
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  progress "Kubernetes binaries (kube-apiserver, etcd, kubectl, helm: test/controlplane/build.sh)"
  CP=$(bash "$repo/test/controlplane/build.sh" | tail -1)
  progress "Kubernetes binaries (controller-manager, scheduler, kubelet, kube-proxy: test/cluster/build.sh)"
  NB=$(bash "$here/build.sh" | tail -1)
  progress "CoreDNS (test/coredns/build.sh)"
  COREDNS_DIR=${COREDNS_DIR:-$(bash "$repo/test/coredns/build.sh" | tail -1)}
  [ -x "$COREDNS_DIR/coredns" ] || die "test/coredns/build.sh printed $COREDNS_DIR, which holds no coredns"

  trap 'echo "[cluster] interrupted: tearing down" >&2; down; exit 130' INT TERM
  # DNSSYNC_CLUSTER_KEEP=1 leaves a failed bring-up in place to look at (then: cluster.sh down).
  trap 'rc=$?; if [ $rc != 0 ] && [ -z "${DNSSYNC_CLUSTER_KEEP:-}" ]; then echo "[cluster] bring-up failed (exit $rc): tearing down" >&2; down; fi' EXIT
  mkdir -p "$STATE/logs" "$STATE/pids"
  progress "network namespaces $CL, ${NODES[*]/#/dnssync-}; bridge $BRIDGE_IP/24; pods ${CLUSTER_CIDR}"
  local k
  for k in "${SYSCTLS[@]}"; do echo "$k=$(sysctl -n "$k")"; done >"$STATE/sysctl.saved"
  setup_network
  progress "images without an engine: pause, CoreDNS, tools (kdig, dig)"
  build_images
  progress "etcd, kube-apiserver ($BRIDGE_IP:6443), controller-manager, scheduler"
  setup_pki
  start_control_plane
  progress "nodes ${NODES[*]}: containerd, kubelet, kube-proxy"
  local n
  for n in "${NODES[@]}"; do start_node "$n"; done
  for n in "${NODES[@]}"; do
    GUARD="kubelet-$n containerd-$n kube-proxy-$n" wait_for "node $n Ready (log: $STATE/logs/kubelet-$n.log)" 180 \
      kctl wait --for=condition=Ready "node/$n" --timeout=5s
  done
  progress "CoreDNS as kube-dns ($DNS_IP)"
  start_coredns
  touch "$STATE/up"
  trap - INT TERM EXIT
  echo "[cluster] up in $((SECONDS - start)) s: nodes ${NODES[*]} Ready, kube-dns at $DNS_IP. Stop it with: make cluster-down" >&2
  kctl get nodes -o wide >&2
  print_env
}

# Imports an image archive (docker or OCI) into every node's containerd, for the kubelet.
load() {
  [ -f "$STATE/up" ] || die "the cluster is not up (make cluster)"
  local n
  for n in "${NODES[@]}"; do
    ctr -a "$STATE/$n/containerd.sock" -n k8s.io images import "$1" >/dev/null
    say "$n: imported $1"
  done
}

cmd=${1:-up}
case "$cmd" in
  load) load "${2:?usage: cluster.sh load IMAGE.tar}" ;;
  up) up ;;
  down) down ;;
  status) CP=$(bash "$repo/test/controlplane/build.sh" --no-build 2>/dev/null | tail -1); status ;;
  env) CP=$(bash "$repo/test/controlplane/build.sh" --no-build 2>/dev/null | tail -1); print_env ;;
  *) die "usage: cluster.sh up|down|status|env" ;;
esac
