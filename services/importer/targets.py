"""The services that own importable models, reached by the import-target protocol
(svckit.importing): which model types the running deployment can import, their fields, and
batch validate/create calls with a timeout and the caller of our choosing."""
import time

import eventlet
from nameko.exceptions import UnknownService
from nameko.extensions import DependencyProvider

from svckit.container_settings import settings_of
from svckit.context import Caller
from svckit.errors import ServiceUnavailable, ValidationFailed
from svckit.signed_rpc import CallerKeys, ReplyListener, SignedServiceProxy

from .settings import ImporterSettings

# Every model InvenTree 264 can import (model type -> serializer), so that a type it knows
# but no running service serves gets a clear answer instead of "not a valid choice".
KNOWN_MODELS = {
    "partcategory": "CategorySerializer", "parttesttemplate": "PartTestTemplateSerializer",
    "partsellpricebreak": "PartSalePriceSerializer",
    "partparametertemplate": "PartParameterTemplateSerializer",
    "partparameter": "PartParameterSerializer", "part": "PartSerializer",
    "bomitem": "BomItemSerializer",
    "partcategoryparametertemplate": "CategoryParameterTemplateSerializer",
    "address": "AddressSerializer", "company": "CompanySerializer",
    "contact": "ContactSerializer", "manufacturerpart": "ManufacturerPartSerializer",
    "manufacturerpartparameter": "ManufacturerPartParameterSerializer",
    "supplierpart": "SupplierPartSerializer", "supplierpricebreak": "SupplierPriceBreakSerializer",
    "projectcode": "ProjectCodeSerializer",
    "inventreecustomuserstatemodel": "CustomStateSerializer",
    "customunit": "CustomUnitSerializer", "stockitemtestresult": "StockItemTestResultSerializer",
    "stockitem": "StockItemSerializer", "stocklocation": "LocationSerializer",
    "stockitemtracking": "StockTrackingSerializer", "purchaseorder": "PurchaseOrderSerializer",
    "purchaseorderlineitem": "PurchaseOrderLineItemSerializer",
    "purchaseorderextraline": "PurchaseOrderExtraLineSerializer",
    "salesorder": "SalesOrderSerializer", "salesorderlineitem": "SalesOrderLineItemSerializer",
    "salesorderextraline": "SalesOrderExtraLineSerializer",
    "returnorder": "ReturnOrderSerializer",
    "returnorderlineitem": "ReturnOrderLineItemSerializer",
    "returnorderextraline": "ReturnOrderExtraLineSerializer",
}


class TargetClient:
    """One worker's view of the target services."""

    def __init__(self, provider: "Targets", worker_ctx):
        self.provider = provider
        self.worker_ctx = worker_ctx

    def call(self, service: str, method: str, caller: Caller | None = None,
             timeout: float | None = None, **kwargs):
        """`service.method(**kwargs)` as `caller` (default: the worker's own caller), signed;
        503 if the service is not running or does not answer within `timeout` seconds."""
        try:
            proxy = SignedServiceProxy(self.worker_ctx, service,
                                       self.provider.rpc_reply_listener,
                                       self.provider.keys.signer, caller)
            reply = getattr(proxy, method).call_async(**kwargs)
            with eventlet.Timeout(timeout or self.provider.timeout):
                return reply.result()
        except UnknownService:
            raise ServiceUnavailable({"detail": f"The {service} service is not running"})
        except eventlet.Timeout:
            raise ServiceUnavailable(
                {"detail": f"The {service} service did not answer in time"})

    def models(self) -> dict[str, dict]:
        """model type -> `{serializer, model_type, api_url, service, label}` of every model the
        running target services import (asked at most every `cache_seconds`)."""
        cached = self.provider.cache
        if cached and time.monotonic() - cached[0] < self.provider.cache_seconds:
            return cached[1]
        found = {}
        for service in self.provider.services:
            try:
                targets = self.call(service, "import_targets", timeout=self.provider.probe_timeout)
            except ServiceUnavailable:
                continue  # not running: its models are not importable now
            for target in targets:
                model = target["model_type"]
                found[model] = {"serializer": target.get("serializer")
                                or KNOWN_MODELS.get(model, ""), "model_type": model,
                                "api_url": target.get("api_url"), "service": service,
                                "label": target.get("label", model)}
        self.provider.cache = (time.monotonic(), found)
        return found

    def importable(self) -> list[dict]:
        """`serializer`, `model_type` and `api_url` of every model the running target
        services import (`GET /api/importer/models/`)."""
        return [{"serializer": m["serializer"], "model_type": m["model_type"],
                 "api_url": m["api_url"]} for m in self.models().values()]

    def service_for(self, model_type) -> str:
        """The service that imports `model_type`, or InvenTree's 400 on `model_type`."""
        model = str(model_type or "").strip().lower()
        target = self.models().get(model)
        if target:
            return target["service"]
        if not model:
            raise ValidationFailed({"model_type": ["This field is required."]})
        if model in KNOWN_MODELS:
            raise ValidationFailed({"model_type": [
                f"Model type '{model}' cannot be imported here: no running service of this "
                "deployment serves it"]})
        raise ValidationFailed({"model_type": [f'"{model_type}" is not a valid choice.']})


class Targets(DependencyProvider):
    rpc_reply_listener = ReplyListener()
    keys = CallerKeys()

    def setup(self):
        settings = settings_of(self.container)
        assert isinstance(settings, ImporterSettings)
        self.services = settings.target_services()
        self.timeout = settings.IMPORT_TARGET_TIMEOUT
        self.probe_timeout = settings.IMPORT_TARGET_PROBE_TIMEOUT
        self.cache_seconds = settings.IMPORT_TARGETS_CACHE_SECONDS
        self.cache = None

    def get_dependency(self, worker_ctx):
        return TargetClient(self, worker_ctx)
