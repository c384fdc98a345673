"""The rules kube-proxy writes for one service port on one node, as text.

Chain names (``portProtoHash`` and ``servicePortEndpointChainName`` in
``pkg/proxy/iptables/proxier.go``; ``hashAndTruncate``, ``servicePortChainNameBase`` and
``servicePortEndpointChainNameBase`` in ``pkg/proxy/nftables/proxier.go``), checked against
kube-proxy's own test expectations (``proxier_test.go`` of both):

* iptables: ``KUBE-SVC-`` / ``KUBE-SVL-`` / ``KUBE-EXT-`` / ``KUBE-FW-`` + the
  first 16 characters of base32(sha256(``"ns/name:port"`` + protocol in lower
  case)); ``KUBE-SEP-`` hashes the same string with ``"ip:port"`` appended.
  ``ns1/svc1:p80`` + ``tcp`` -> ``KUBE-SVC-XPGD46QRK7WJZT7O``.
* nftables: ``service-`` / ``local-`` / ``external-`` + the first 8 characters
  of base32(sha256(``"ns/name/proto/port"``)) + ``-`` + that readable name;
  endpoints ``endpoint-`` / ``affinity-`` with ``"__ip/port"`` appended
  (colons of IPv6 addresses become dots).

The rule text follows ``iptables-restore`` input and ``nft`` syntax. The
service and endpoint chains (selection, affinity, DNAT) are what kube-proxy
writes, rule for rule; the dispatch, masquerade and filter rules around them
are rendered from the same reading of the proxiers, with this module's own
formatting where kube-proxy's is not pinned down by a test.

Inputs are plain values: names and addresses as strings, the verdicts of
``Target`` as their strings ("forward", "drop", "reject"), the endpoints and
their categories as :func:`~lbalgo.kube.topology.categorize` gives them, and
the service port as any object with the fields of :class:`ServicePort` (a
:class:`lbalgo.kube.Service` has them). This module imports nothing from
the modules that use it.
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING, Protocol, Sequence

from ..schedulers.kube_random import probability_int, probability_string

if TYPE_CHECKING:
    from .slices import Endpoint
    from .topology import Categorized


class ServicePort(Protocol):
    """The fields of one service port that its rules print (:class:`lbalgo.kube.Service` has them)."""

    namespace: str
    name: str
    port_name: str
    protocol: str  # "TCP", "UDP" or "SCTP"
    port_string: str  # "namespace/name:port"
    ip_family: str  # "IPv4" or "IPv6"
    cluster_ip: str | None
    port_number: int | None
    node_port: int  # 0: none
    external_ips: tuple[str, ...]
    load_balancer_ips: tuple[str, ...]
    externally_accessible: bool
    internal_traffic_policy: str  # "Cluster" or "Local"
    external_traffic_policy: str
    affinity: bool  # sessionAffinity: ClientIP
    timeout: int  # its timeoutSeconds


def _b32(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()


def iptables_chain(prefix: str, port_string: str, protocol: str) -> str:
    """``KUBE-SVC-…`` style name: ``prefix`` + 16 characters of the hash."""
    return f"{prefix}-{_b32(port_string + protocol.lower())[:16]}"


def iptables_sep_chain(port_string: str, protocol: str, endpoint: str) -> str:
    """``KUBE-SEP-…`` name of one endpoint (``endpoint`` is ``"ip:port"``)."""
    return f"KUBE-SEP-{_b32(port_string + protocol.lower() + endpoint)[:16]}"


def _nft_hashed(name: str) -> str:
    out = f"{_b32(name)[:8]}-{name}"
    return out if len(out) <= 240 else out[:237] + "..."


def nft_chain(prefix: str, namespace: str, name: str, protocol: str, port_name: str) -> str:
    """``service-HASH8-ns/name/proto/port`` style name (``prefix`` without the dash)."""
    return f"{prefix}-{_nft_hashed(f'{namespace}/{name}/{protocol.lower()}/{port_name}')}"


def nft_endpoint_chain(prefix: str, namespace: str, name: str, protocol: str, port_name: str,
                       ip: str, port: int) -> str:
    """``endpoint-HASH8-ns/name/proto/port__ip/port`` (``prefix`` "endpoint" or "affinity")."""
    ip = ip.replace(":", ".")
    return f"{prefix}-{_nft_hashed(f'{namespace}/{name}/{protocol.lower()}/{port_name}__{ip}/{port}')}"


def saved_probability(remaining: int) -> str:
    """Return the probability as ``iptables-save`` prints it: ``p_int / 2**31`` with 11 decimals.

    As ``print_match`` in iptables' ``extensions/libxt_statistic.c`` prints it.
    """
    return f"{probability_int(remaining) / 2147483648:.11f}"


def _quote(comment: str) -> str:
    return f'"{comment}"' if " " in comment else comment


# -- iptables ------------------------------------------------------------------------------------


class IptablesNames:
    """Chain names of one service port: ``port_string`` is ``"namespace/name:port"``."""

    def __init__(self, port_string: str, protocol: str) -> None:
        ps, proto = port_string, protocol
        self.svc = iptables_chain("KUBE-SVC", ps, proto)
        self.svl = iptables_chain("KUBE-SVL", ps, proto)
        self.ext = iptables_chain("KUBE-EXT", ps, proto)
        self.fw = iptables_chain("KUBE-FW", ps, proto)
        self._ps, self._proto = ps, proto

    def sep(self, endpoint: Endpoint | str) -> str:
        """Return the ``KUBE-SEP-…`` chain of one endpoint (``"ip:port"``)."""
        return iptables_sep_chain(self._ps, self._proto, str(endpoint))


def iptables_service_chain(chain: str, svc: ServicePort, endpoints: Sequence[Endpoint],
                           saved: bool = False) -> list[str]:
    """Return the affinity and ``statistic`` rules of one SVC/SVL chain, in order.

    As ``writeServiceToEndpointRules`` in ``pkg/proxy/iptables/proxier.go`` writes them.

    ``saved``: print probabilities as ``iptables-save`` shows them (11 decimals of the
    quantised value) instead of the 10-decimal strings kube-proxy writes.
    """
    prob = saved_probability if saved else probability_string
    names = IptablesNames(svc.port_string, svc.protocol)
    out = []
    if svc.affinity:
        for e in endpoints:
            sep = names.sep(e)
            out.append(f"-A {chain} -m comment --comment {_quote(f'{svc.port_string} -> {e.key}')} "
                       f"-m recent --name {sep} --rcheck --seconds {svc.timeout} --reap -j {sep}")
    n = len(endpoints)
    for i, e in enumerate(endpoints):
        stat = f"-m statistic --mode random --probability {prob(n - i)} " if i < n - 1 else ""
        out.append(f"-A {chain} -m comment --comment {_quote(f'{svc.port_string} -> {e.key}')} "
                   f"{stat}-j {names.sep(e)}")
    return out


def iptables_endpoint_chain(svc: ServicePort, e: Endpoint) -> list[str]:
    """Return the two rules of a ``KUBE-SEP`` chain: hairpin masquerade, then DNAT (and ``--set``).

    As the per-endpoint loop of ``syncProxyRules`` in ``pkg/proxy/iptables/proxier.go`` writes them.
    """
    sep = IptablesNames(svc.port_string, svc.protocol).sep(e)
    proto = svc.protocol.lower()
    recent = f"-m recent --name {sep} --set " if svc.affinity else ""
    return [f"-A {sep} -m comment --comment {_quote(svc.port_string)} -s {e.ip} -j KUBE-MARK-MASQ",
            f"-A {sep} -m comment --comment {_quote(svc.port_string)} {recent}-m {proto} -p {proto} "
            f"-j DNAT --to-destination {e.key}"]


def iptables_rules(svc: ServicePort, cat: Categorized, internal: str, external: str | None,
                   cluster_cidr: str | None = None, saved: bool = False) -> list[str]:
    """Return every rule kube-proxy writes for ``svc`` on one node, ``*nat`` then ``*filter``.

    ``internal`` and ``external`` are the verdicts ("forward", "drop" or
    "reject") for traffic to the cluster IP and to the external frontends
    (None when the port is not externally accessible).
    """
    names = IptablesNames(svc.port_string, svc.protocol)
    ps, proto = svc.port_string, svc.protocol.lower()
    cip, port = svc.cluster_ip or "<cluster-ip>", svc.port_number or 0
    nat: list[str] = []
    filt: list[str] = []
    internal_chain = names.svl if svc.internal_traffic_policy == "Local" else names.svc
    if not cat.has_any:
        filt.append(f"-A KUBE-SERVICES -m comment --comment \"{ps} has no endpoints\" -m {proto} -p {proto} "
                    f"-d {cip} --dport {port} -j REJECT")
    elif internal == "drop":
        filt.append(f"-A KUBE-SERVICES -m comment --comment \"{ps} has no local endpoints\" -m {proto} "
                    f"-p {proto} -d {cip} --dport {port} -j DROP")
    else:
        nat.append(f"-A KUBE-SERVICES -m comment --comment \"{ps} cluster IP\" -m {proto} -p {proto} "
                   f"-d {cip} --dport {port} -j {internal_chain}")
    if cat.has_any and svc.externally_accessible:
        for ip in svc.external_ips:
            nat.append(f"-A KUBE-SERVICES -m comment --comment \"{ps} external IP\" -m {proto} -p {proto} "
                       f"-d {ip} --dport {port} -j {names.ext}")
        for ip in svc.load_balancer_ips:
            nat.append(f"-A KUBE-SERVICES -m comment --comment \"{ps} loadbalancer IP\" -m {proto} "
                       f"-p {proto} -d {ip} --dport {port} -j {names.ext}")
        if svc.node_port:
            nat.append(f"-A KUBE-NODEPORTS -m comment --comment {_quote(ps)} -m {proto} -p {proto} "
                       f"--dport {svc.node_port} -j {names.ext}")
        if svc.external_traffic_policy == "Local":
            if cluster_cidr:
                nat.append(f"-A {names.ext} -m comment --comment \"pod traffic for {ps} external "
                           f"destinations\" -s {cluster_cidr} -j {names.svc}")
            nat.append(f"-A {names.ext} -m comment --comment \"masquerade LOCAL traffic for {ps} external "
                       f"destinations\" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ")
            nat.append(f"-A {names.ext} -m comment --comment \"route LOCAL traffic for {ps} external "
                       f"destinations\" -m addrtype --src-type LOCAL -j {names.svc}")
            if external == "forward":
                nat.append(f"-A {names.ext} -j {names.svl}")
            else:
                filt.append(f"-A KUBE-EXTERNAL-SERVICES -m comment --comment \"{ps} has no local endpoints\" "
                            f"-m {proto} -p {proto} --dport {svc.node_port or port} -j DROP")
        else:
            nat.append(f"-A {names.ext} -m comment --comment \"masquerade traffic for {ps} external "
                       f"destinations\" -j KUBE-MARK-MASQ")
            nat.append(f"-A {names.ext} -j {names.svc}")
    for chain, eps in ((names.svc, cat.cluster), (names.svl, cat.local)):
        if not eps:
            continue
        if chain == internal_chain and cluster_cidr and svc.cluster_ip:
            nat.append(f"-A {chain} -m comment --comment \"{ps} cluster IP\" -m {proto} -p {proto} "
                       f"-d {cip} --dport {port} ! -s {cluster_cidr} -j KUBE-MARK-MASQ")
        nat.extend(iptables_service_chain(chain, svc, eps, saved))
    for e in cat.all_reachable:
        nat.extend(iptables_endpoint_chain(svc, e))
    return ["*nat"] + nat + ["*filter"] + filt


# -- userspace ----------------------------------------------------------------------------------


def userspace_rules(svc: ServicePort, proxy_port: str = "<proxy-port>",
                    node_ip: str = "<node-ip>") -> list[str]:
    """Return the portal rules the userspace proxier keeps for ``svc``.

    As ``iptablesContainerPortalArgs``, ``iptablesHostPortalArgs`` and
    ``openNodePort`` in ``pkg/proxy/userspace/proxier.go`` write them.
    Every frontend is redirected to the one local port the proxy listens on
    for this service port (a random free port: ``proxy_port``). Traffic from
    containers is REDIRECTed (the proxy listens on 0.0.0.0), traffic from the
    host DNATed to the node's address. External IPs get a physdev match and
    a pair of dst-LOCAL rules; a NodePort gets its own chains and a filter
    rule that accepts new connections to the proxy port. No endpoint appears:
    the proxy process chooses it.
    """
    proto = svc.protocol.lower()
    cip, port = svc.cluster_ip or "<cluster-ip>", svc.port_number or 0
    comment = f"-m comment --comment {_quote(svc.port_string)}"

    def common(dport: int, dest: str | None = None, physdev: bool = False, local: bool = False) -> str:
        args = f"{comment} -p {proto} -m {proto} --dport {dport}"
        if dest is not None:
            args += f" -d {dest}/{128 if ':' in dest else 32}"
        if physdev:
            args += " -m physdev ! --physdev-is-in"
        if local:
            args += " -m addrtype --dst-type LOCAL"
        return args

    redirect = f"-j REDIRECT --to-ports {proxy_port}"
    dnat = f"-j DNAT --to-destination {node_ip}:{proxy_port}"
    nat = [f"-A KUBE-PORTALS-CONTAINER {common(port, cip)} {redirect}",
           f"-A KUBE-PORTALS-HOST {common(port, cip)} {dnat}"]
    for ip in svc.external_ips:
        nat += [f"-A KUBE-PORTALS-CONTAINER {common(port, ip, physdev=True)} {redirect}",
                f"-A KUBE-PORTALS-CONTAINER {common(port, ip, local=True)} {redirect}",
                f"-A KUBE-PORTALS-HOST {common(port, ip, local=True)} {dnat}"]
    for ip in svc.load_balancer_ips:
        nat += [f"-A KUBE-PORTALS-CONTAINER {common(port, ip)} {redirect}",
                f"-A KUBE-PORTALS-HOST {common(port, ip)} {dnat}"]
    filt = []
    if svc.node_port:
        nat += [f"-A KUBE-NODEPORT-CONTAINER {common(svc.node_port)} {redirect}",
                f"-A KUBE-NODEPORT-HOST {common(svc.node_port)} {dnat}"]
        filt.append(f"-A KUBE-NODEPORT-NON-LOCAL {comment} -p {proto} -m {proto} --dport {proxy_port} "
                    "-m state --state NEW -j ACCEPT")
    return ["*nat"] + nat + ["*filter"] + filt


# -- nftables ------------------------------------------------------------------------------------


class NftNames:
    """Chain and set names of one service port."""

    def __init__(self, namespace: str, name: str, protocol: str, port_name: str) -> None:
        args = (namespace, name, protocol, port_name)
        self.service = nft_chain("service", *args)
        self.local = nft_chain("local", *args)
        self.external = nft_chain("external", *args)
        self._args = args

    def endpoint(self, ip: str, port: int) -> str:
        """Return the ``endpoint-…`` chain of one endpoint."""
        return nft_endpoint_chain("endpoint", *self._args, ip, port)

    def affinity(self, ip: str, port: int) -> str:
        """Return the ``affinity-…`` set of one endpoint."""
        return nft_endpoint_chain("affinity", *self._args, ip, port)


def _nft_names(svc: ServicePort) -> NftNames:
    return NftNames(svc.namespace, svc.name, svc.protocol, svc.port_name)


def nft_service_chain(chain: str, svc: ServicePort, endpoints: Sequence[Endpoint]) -> list[str]:
    """Return the affinity rules and the one ``numgen`` rule of a service/local chain.

    As ``writeServiceToEndpointRules`` in ``pkg/proxy/nftables/proxier.go`` writes them.
    """
    names = _nft_names(svc)
    ipx = "ip6" if svc.ip_family == "IPv6" else "ip"
    out = []
    if svc.affinity:
        out += [f"add rule {ipx} kube-proxy {chain} {ipx} saddr @{names.affinity(e.ip, e.port)} "
                f"goto {names.endpoint(e.ip, e.port)}" for e in endpoints]
    elements = " , ".join(f"{i} : goto {names.endpoint(e.ip, e.port)}" for i, e in enumerate(endpoints))
    out.append(f"add rule {ipx} kube-proxy {chain} numgen random mod {len(endpoints)} vmap {{ {elements} }}")
    return out


def nftables_rules(svc: ServicePort, cat: Categorized, internal: str, external: str | None,
                   cluster_cidr: str | None = None) -> list[str]:
    """Return the objects kube-proxy adds for ``svc`` on one node (``nft -f`` syntax, table ``kube-proxy``).

    ``internal`` and ``external`` are verdicts, as for :func:`iptables_rules`.
    """
    names = _nft_names(svc)
    fam = "ip6" if svc.ip_family == "IPv6" else "ip"
    addr_type = "ipv6_addr" if fam == "ip6" else "ipv4_addr"
    proto = svc.protocol.lower()
    cip, port = svc.cluster_ip or "<cluster-ip>", svc.port_number or 0
    t = f"{fam} kube-proxy"
    out: list[str] = []
    internal_chain = names.local if svc.internal_traffic_policy == "Local" else names.service
    if internal == "forward":
        out.append(f"add element {t} service-ips {{ {cip} . {proto} . {port} : goto {internal_chain} }}")
    else:
        verdict = "goto reject-chain" if internal == "reject" else "drop"
        out.append(f"add element {t} no-endpoint-services {{ {cip} . {proto} . {port} comment "
                   f"\"{svc.port_string}\" : {verdict} }}")
    if cat.has_any and svc.externally_accessible:
        for ip in svc.external_ips + svc.load_balancer_ips:
            out.append(f"add element {t} service-ips {{ {ip} . {proto} . {port} : goto {names.external} }}")
        if svc.node_port:
            out.append(f"add element {t} service-nodeports {{ {proto} . {svc.node_port} : "
                       f"goto {names.external} }}")
        out.append(f"add chain {t} {names.external}")
        if svc.external_traffic_policy == "Local":
            if cluster_cidr:
                out.append(f"add rule {t} {names.external} {fam} saddr {cluster_cidr} goto {names.service} "
                           "comment \"short-circuit pod traffic\"")
            out.append(f"add rule {t} {names.external} fib saddr type local jump mark-for-masquerade "
                       "comment \"masquerade local traffic\"")
            out.append(f"add rule {t} {names.external} fib saddr type local goto {names.service} "
                       "comment \"short-circuit local traffic\"")
        else:
            out.append(f"add rule {t} {names.external} jump mark-for-masquerade")
        if external == "forward":
            target = names.local if svc.external_traffic_policy == "Local" else names.service
            out.append(f"add rule {t} {names.external} goto {target}")
    if svc.affinity:
        for e in cat.all_reachable:
            out.append(f"add set {t} {names.affinity(e.ip, e.port)} {{ type {addr_type} ; "
                       f"flags dynamic,timeout ; timeout {svc.timeout}s ; }}")
    for chain, eps in ((names.service, cat.cluster), (names.local, cat.local)):
        if not eps:
            continue
        out.append(f"add chain {t} {chain}")
        if chain == internal_chain and cluster_cidr and svc.cluster_ip:
            out.append(f"add rule {t} {chain} {fam} daddr {cip} {proto} dport {port} {fam} saddr != "
                       f"{cluster_cidr} jump mark-for-masquerade")
        out.extend(nft_service_chain(chain, svc, eps))
    for e in cat.all_reachable:
        ch = names.endpoint(e.ip, e.port)
        out.append(f"add chain {t} {ch}")
        out.append(f"add rule {t} {ch} {fam} saddr {e.ip} jump mark-for-masquerade")
        if svc.affinity:
            out.append(f"add rule {t} {ch} update @{names.affinity(e.ip, e.port)} {{ {fam} saddr }}")
        out.append(f"add rule {t} {ch} meta l4proto {proto} dnat to {e.key}")
    return out
