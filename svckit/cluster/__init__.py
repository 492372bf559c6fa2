"""The production shape on one machine (`make cluster`, scripts/run_cluster.py, and tests that
break its pieces): a 3-node RabbitMQ cluster (rabbitmq), PostgreSQL with a database per
service (postgres), 2 replicas of every service and 2 gateway instances (svckit.stack),
HAProxy in front of the gateways (haproxy), put together by topology.Cluster; the faults it
must survive (faults) and the careful client load they are tried under (load).
"""
from svckit.cluster.topology import Cluster, Ports

__all__ = ["Cluster", "Ports"]
