"""kube-proxy's service model: EndpointSlices or Endpoints in, endpoints and data-plane choice per node out.

Import it explicitly (``import lbalgo`` does not)::

    from lbalgo.kube import load_endpointslices, Node, NodeProxy, Service
    slices = load_endpointslices("slices.json")       # kubectl get endpointslices -o json|yaml
    svc = Service.from_endpointslices(slices, port="http", session_affinity="None")
    node = Node(name="worker-a1", zone="eu-west-1a")
    svc.endpoints_for(node)                  # CategorizeEndpoints: cluster / local / all
    proxy = NodeProxy(svc, node, mode="iptables")  # or "nftables", "ipvs" (scheduler="rr", ...), "userspace"
    proxy.pick(client="10.0.0.5", now=0.0)    # the endpoint of one new connection
    proxy.rules()                             # the rules kube-proxy writes

    from lbalgo.kube import load_endpoints    # the legacy core/v1 Endpoints API
    svc = Service.from_endpoints(load_endpoints("endpoints.json"), port="http")

See ``docs/kube-proxy.md``; the behaviour is kube-proxy's, from kubernetes/kubernetes
``pkg/proxy/`` (``topology.go``, ``endpointslicecache.go``, ``serviceport.go`` and the
``iptables``, ``nftables`` and ``ipvs`` proxiers).
"""

from .endpoints import Endpoints, EndpointsError, load_endpoints
from .object_files import KubeObjectError
from .proxy import MODES, NodeProxy, SyncReport
from .service import Node, Service
from .slices import Endpoint, EndpointSlice, EndpointSliceError, load_endpointslices
from .topology import Categorized, Target, categorize, classify

__all__ = ["load_endpointslices", "EndpointSlice", "EndpointSliceError", "Endpoint", "Service", "Node",
           "load_endpoints", "Endpoints", "EndpointsError", "KubeObjectError",
           "Target", "Categorized", "categorize", "classify", "NodeProxy", "SyncReport", "MODES"]
