"""kube-proxy's service model: EndpointSlices in, the endpoints and data-plane choice per node out.

Import it explicitly (``import lbalgo`` does not)::

    from lbalgo.kube import load_endpointslices, Service, Node
    slices = load_endpointslices("slices.json")       # kubectl get endpointslices -o json|yaml
    svc = Service.from_endpointslices(slices, port="http", session_affinity="None")
    node = Node(name="worker-a1", zone="eu-west-1a")
    svc.endpoints_for(node)                  # CategorizeEndpoints: cluster / local / all
    proxy = svc.proxy(node, mode="iptables")  # or "nftables", "ipvs" (scheduler="rr", ...)
    proxy.pick(client="10.0.0.5", now=0.0)    # the endpoint of one new connection
    proxy.rules()                             # the rules kube-proxy writes

See ``docs/kube-proxy.md`` and ``spec/kube-proxy.md``.
"""

from .proxy import MODES, NodeProxy, SyncReport
from .service import Node, Service, Target
from .slices import Endpoint, EndpointSlice, EndpointSliceError, load_endpointslices
from .topology import Categorized, categorize, classify

__all__ = ["load_endpointslices", "EndpointSlice", "EndpointSliceError", "Endpoint", "Service", "Node",
           "Target", "Categorized", "categorize", "classify", "NodeProxy", "SyncReport", "MODES"]
