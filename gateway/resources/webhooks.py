"""Outbound webhook subscriptions and their deliveries (audit service), staff only:

- `/api/events/subscriptions/` list, create; `.../{id}/` GET, PUT, PATCH, DELETE;
- `.../{id}/deliveries/` list (status, attempts, response code, latency, next try),
  `.../{id}/deliveries/{delivery}/` one, and POST `.../redeliver/` on a parked one.

The secret is write-only: a create without one gets a random one, and the create's answer
is the only one that shows it (it is added here; the audit service never answers it)."""
import secrets

from gateway import http
from svckit.errors import ValidationFailed

from .base import CreateMixin, DetailResource, ListResource, Resource

SECRET_BYTES = 32


class SubscriptionList(CreateMixin, ListResource):
    service = "audit"
    list_method, create_method = "list_webhook_subscriptions", "create_webhook_subscription"

    def on_post(self, req, resp):
        data = http.clean(self.body(req))
        if not isinstance(data, dict):
            raise ValidationFailed({"non_field_errors": [
                f"Invalid data. Expected a dictionary, but got {type(data).__name__}."]})
        secret = data.get("secret")
        if secret is None or (isinstance(secret, str) and not secret.strip()):
            secret = data["secret"] = secrets.token_hex(SECRET_BYTES)
        answer = self.call(req, self.service, self.create_method, data=data)
        http.send(resp, {**answer, "secret": str(secret).strip()}, 201)


class SubscriptionDetail(DetailResource):
    service = "audit"
    get_method, update_method, delete_method = (
        "get_webhook_subscription", "update_webhook_subscription",
        "delete_webhook_subscription")


class DeliveryList(Resource):
    def on_get(self, req, resp, id):
        http.send_list(req, resp, self.call(req, "audit", "list_webhook_deliveries",
                                            subscription=http.int_id(id),
                                            params=http.query(req)))


class DeliveryDetail(Resource):
    def on_get(self, req, resp, id, delivery):
        http.send(resp, self.call(req, "audit", "get_webhook_delivery",
                                  subscription=http.int_id(id), pk=http.int_id(delivery)))


class Redeliver(Resource):
    def on_post(self, req, resp, id, delivery):
        http.send(resp, self.call(req, "audit", "redeliver_webhook",
                                  subscription=http.int_id(id), pk=http.int_id(delivery)))


def register(app, api):
    app.add_route("/api/events/subscriptions/", SubscriptionList(api))
    app.add_route("/api/events/subscriptions/{id}/", SubscriptionDetail(api))
    app.add_route("/api/events/subscriptions/{id}/deliveries/", DeliveryList(api))
    app.add_route("/api/events/subscriptions/{id}/deliveries/{delivery}/", DeliveryDetail(api))
    app.add_route("/api/events/subscriptions/{id}/deliveries/{delivery}/redeliver/",
                  Redeliver(api))
