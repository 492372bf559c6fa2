"""The import-target protocol: how the importer service writes into models it does not own.

A service that owns importable models exposes four RPC methods (see `ImportTargetMixin`):

- `import_targets()` -> `[{"model_type", "label", "serializer", "api_url"}]`: what it can
  import;
- `import_fields(model_type)` -> `{field: metadata}`: the writable fields, in the shape of
  DRF's OPTIONS metadata (§1.10), which the importer maps columns against;
- `import_validate(model_type, rows)` -> `[{"row", "errors"}]`: checks a batch without
  writing (`errors` is null or DRF-shaped field errors);
- `import_create(model_type, rows)` -> `[{"row", "pk", "errors"}]`: creates a batch, each
  row in its own savepoint. Rows carry a `key` (e.g. "<session>:<row>"); a key already
  imported answers the pk recorded the first time, so a retried batch creates nothing twice.

The owning service supplies, per model type, an `ImportAdapter` with `fields`, `validate`
and `create`. `context` carries what the service looked up before opening its transaction
(e.g. other services' answers about referenced rows).
"""
from dataclasses import dataclass
from typing import Callable

from pydantic import BaseModel, Field as PydanticField, ValidationError
from sqlalchemy import BigInteger, Column, MetaData, String, Table, select
from sqlalchemy.exc import IntegrityError

from svckit.errors import ApiError, ValidationFailed
from svckit.fields import describe

MAX_BATCH = 1000


class ImportRow(BaseModel):
    row: int
    data: dict
    key: str = ""


class ImportBatch(BaseModel):
    rows: list[ImportRow] = PydanticField(max_length=MAX_BATCH)


def import_receipt_table(metadata: MetaData) -> Table:
    """import key -> pk of the row it created (projected from the creation events)."""
    return Table("import_receipt", metadata,
                 Column("import_key", String(200), primary_key=True),
                 Column("pk", BigInteger, nullable=False))


@dataclass
class ImportAdapter:
    label: str
    fields: dict  # name -> svckit.fields.Field
    validate: Callable  # (session, data, context) -> cleaned data; raises ValidationFailed
    create: Callable  # (session, caller, cleaned, import_key) -> pk
    serializer: str = ""  # InvenTree's serializer class name (`/api/importer/models/`)
    api_url: str | None = None  # the model's list URL, if it has one
    # Optional batch forms, for speed: `validate_batch(session, [data], context)` -> a cleaned
    # dict or an ApiError per row, judged as if the rows were created one after another;
    # `create_batch(session, caller, [(cleaned, import_key)])` -> pks.
    validate_batch: Callable | None = None
    create_batch: Callable | None = None
    # `check_batch(session, [data], context)` -> a cleaned dict or an ApiError per row, each
    # row judged on its own as `validate` judges it (for `import_validate`: one query for
    # the batch instead of one per row)
    check_batch: Callable | None = None


def parse_rows(rows) -> list[ImportRow]:
    try:
        return ImportBatch(rows=rows).rows
    except ValidationError as exc:
        raise ValidationFailed({"rows": [f"Invalid import batch (at most {MAX_BATCH} rows of "
                                         f"{{row, data, key}}): {exc.errors()[0]['msg']}"]})


def _errors_of(exc: ApiError) -> dict:
    return exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": [str(exc.detail)]}


class ImportTargets:
    """Runs the protocol for a service's adapters against its database."""

    def __init__(self, adapters: dict[str, ImportAdapter], receipts: Table):
        self.adapters = adapters
        self.receipts = receipts

    def adapter(self, model_type: str) -> ImportAdapter:
        try:
            return self.adapters[model_type]
        except KeyError:
            raise ValidationFailed({"model_type": [f"Model type '{model_type}' cannot be imported by this service"]})

    def targets(self) -> list[dict]:
        return [{"model_type": m, "label": a.label, "serializer": a.serializer,
                 "api_url": a.api_url} for m, a in self.adapters.items()]

    def fields(self, model_type: str) -> dict:
        return describe(self.adapter(model_type).fields, writable_only=True)

    def validate(self, session, model_type: str, rows: list[dict], context=None) -> list[dict]:
        adapter = self.adapter(model_type)
        batch = parse_rows(rows)
        if adapter.check_batch is not None:
            judged = adapter.check_batch(session, [row.data for row in batch], context or {})
            return [{"row": row.row,
                     "errors": _errors_of(j) if isinstance(j, ApiError) else None}
                    for row, j in zip(batch, judged)]
        out: list[dict] = []
        for row in batch:
            try:
                adapter.validate(session, row.data, context or {})
                out.append({"row": row.row, "errors": None})
            except ApiError as exc:
                out.append({"row": row.row, "errors": _errors_of(exc)})
        return out

    def create(self, session, caller, model_type: str, rows: list[dict],
               context=None) -> list[dict]:
        adapter = self.adapter(model_type)
        batch = parse_rows(rows)
        keys = [row.key for row in batch if row.key]
        done = dict(session.execute(select(self.receipts.c.import_key, self.receipts.c.pk)
                                    .where(self.receipts.c.import_key.in_(keys))).all()
                    ) if keys else {}
        out, pending = [], []
        order = {row.row: i for i, row in enumerate(batch)}
        for row in batch:
            if row.key in done:
                out.append({"row": row.row, "pk": done[row.key], "errors": None})
                continue
            pending.append(row)
        if adapter.validate_batch and adapter.create_batch:
            pending = self._create_batch(session, caller, adapter, pending, context, out)
        for row in pending:
            savepoint = session.begin_nested()
            try:
                cleaned = adapter.validate(session, row.data, context or {})
                pk = adapter.create(session, caller, cleaned, row.key or None)
                savepoint.commit()
                out.append({"row": row.row, "pk": pk, "errors": None})
            except ApiError as exc:
                savepoint.rollback()
                # a copy of this batch running at once (a resend, a redelivery, a second
                # importer) may have created the row under its key since the receipts
                # were read: refused here as "already exists", it is created, not failed
                pk = self._receipt(session, row.key)
                out.append({"row": row.row, "pk": pk, "errors": None} if pk is not None
                           else {"row": row.row, "pk": None, "errors": _errors_of(exc)})
        return sorted(out, key=lambda item: order[item["row"]])

    def _receipt(self, session, key: str):
        """The pk created under import `key`, committed by now (None: none, or no key)."""
        if not key:
            return None
        return session.execute(select(self.receipts.c.pk).where(
            self.receipts.c.import_key == key)).scalar()

    @staticmethod
    def _create_batch(session, caller, adapter, rows, context, out) -> list:
        """Validate and create `rows` in one go; returns the rows left for one-by-one
        creation (all of them if the batch hit a database constraint)."""
        judged = adapter.validate_batch(session, [row.data for row in rows], context or {})
        valid = [(row, cleaned) for row, cleaned in zip(rows, judged)
                 if not isinstance(cleaned, ApiError)]
        savepoint = session.begin_nested()
        try:
            pks = adapter.create_batch(session, caller,
                                       [(cleaned, row.key or None) for row, cleaned in valid])
            savepoint.commit()
        except IntegrityError:
            savepoint.rollback()
            return rows
        for row, cleaned in zip(rows, judged):
            if isinstance(cleaned, ApiError):
                out.append({"row": row.row, "pk": None, "errors": _errors_of(cleaned)})
        out.extend({"row": row.row, "pk": pk, "errors": None}
                   for (row, _), pk in zip(valid, pks))
        return []
