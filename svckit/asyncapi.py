"""The AsyncAPI 3.0 document of every event the system publishes, generated from the event
catalogs (svckit.eventcatalog) of the services.

A channel per service: its topic exchange `<service>.events` (svckit.relay), routing key =
event type. A message per event type: the published envelope (svckit.events.wire_event)
whose `payload` is the JSON Schema of the type's model, less the secret fields that never
leave the service (svckit.hashchain.SECRET_KEYS); one `receive` operation per channel,
for subscribers.
"""
import copy
from urllib.parse import urlsplit

from svckit.hashchain import SECRET_KEYS

ASYNCAPI_VERSION = "3.0.0"


def _envelope(service: str, type_: str, version: int, payload_schema: dict) -> dict:
    string, integer = {"type": "string"}, {"type": "integer"}
    hash_hex = {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$"}
    return {
        "type": "object",
        "required": ["id", "service", "seq", "stream_type", "stream_id", "version", "type",
                     "payload", "actor", "request_id", "created"],
        "properties": {
            "id": {**string, "description": "<service>:<seq>, unique", "examples": [
                f"{service}:1"]},
            "service": {"const": service},
            "seq": {**integer, "description": "the event's id in its service's log"},
            "stream_type": string,
            "stream_id": string,
            "version": {**integer, "description": "the event's version in its stream"},
            "type": {"const": type_},
            "schema_version": {"const": version,
                               "description": "the version of the payload's schema"},
            "payload": payload_schema,
            "actor": string,
            "request_id": string,
            "created": {**string, "format": "date-time"},
            "chain_seq": {"type": ["integer", "null"],
                          "description": "position in the service's hash chain"},
            "hash": {**hash_hex, "description": "SHA-256 of the event's canonical form"},
            "prev_hash": {**hash_hex, "description": "hash of the event before it in the log"},
            "secrets": {**string, "description": "SHA-256 of the payload's secret fields, "
                                                 "which are not published (\"\" for none)"},
        },
    }


def _public(schema: dict) -> dict:
    """A payload schema without the secret fields (they are not published)."""
    schema = copy.deepcopy(schema)
    properties = schema.get("properties", {})
    for key in SECRET_KEYS & properties.keys():
        del properties[key]
    if "required" in schema:
        schema["required"] = [k for k in schema["required"] if k not in SECRET_KEYS]
    return schema


def _server(amqp_uri: str) -> dict:
    """The broker, without credentials."""
    parts = urlsplit(amqp_uri)
    host = parts.hostname or "localhost"
    vhost = parts.path.lstrip("/") or "/"
    return {"host": f"{host}:{parts.port or 5672}", "protocol": "amqp",
            "protocolVersion": "0.9.1", "pathname": f"/{vhost.lstrip('/')}",
            "description": "RabbitMQ: each service's events are published to its topic "
                           "exchange."}


def document(catalogs: dict[str, dict], amqp_uri: str, api_version: str) -> dict:
    """The AsyncAPI document of `catalogs` ({service: EventCatalog.describe()})."""
    channels: dict = {}
    operations: dict = {}
    messages: dict = {}
    schemas: dict = {}
    for service, types in sorted(catalogs.items()):
        exchange = f"{service}.events"
        channel_messages = {}
        for type_, info in sorted(types.items()):
            schema = _public(info["schema"])
            schemas.update(schema.pop("$defs", {}))
            name = f"{service}.{type_}"
            messages[name] = {
                "name": type_,
                "title": schema.get("title", type_),
                "summary": info["description"] or type_,
                "contentType": "application/json",
                "payload": _envelope(service, type_, info["version"], schema),
                "x-schema-version": info["version"],
            }
            channel_messages[type_] = {"$ref": f"#/components/messages/{name}"}
        channels[exchange] = {
            "address": exchange,
            "title": f"Events of the {service} service",
            "description": f"The topic exchange `{exchange}`; each message's routing key is "
                           "its event type. Published at least once, in the order of the "
                           "service's hash chain; subscribers deduplicate by `id`.",
            "messages": channel_messages,
            "bindings": {"amqp": {"is": "routingKey", "exchange": {
                "name": exchange, "type": "topic", "durable": True, "autoDelete": False,
                "vhost": "/"}, "bindingVersion": "0.3.0"}},
        }
        operations[f"receive.{service}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{exchange}"},
            "summary": f"Subscribe to the {service} service's events.",
            "messages": [{"$ref": f"#/channels/{exchange}/messages/{type_}"}
                         for type_ in sorted(types)],
        }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {"title": "InvenTree General API: domain events", "version": api_version,
                 "description": "Every event type the services record, with its payload "
                                "schema (generated from the event catalogs)."},
        "defaultContentType": "application/json",
        "servers": {"rabbitmq": _server(amqp_uri)},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
