"""InvenTree 264's built-in status classes (SEMANTICS §11): names, keys, labels, colours."""

COLORS = ("primary", "secondary", "success", "danger", "warning", "info", "dark")


def _values(*rows):
    return {name: {"color": color, "key": key, "label": label, "name": name}
            for name, key, label, color in rows}


_HISTORY = [
    ("LEGACY", 0, "Legacy stock tracking entry"), ("CREATED", 1, "Stock item created"),
    ("EDITED", 5, "Edited stock item"), ("ASSIGNED_SERIAL", 6, "Assigned serial number"),
    ("STOCK_COUNT", 10, "Stock counted"), ("STOCK_ADD", 11, "Stock manually added"),
    ("STOCK_REMOVE", 12, "Stock manually removed"), ("STOCK_MOVE", 20, "Location changed"),
    ("STOCK_UPDATE", 25, "Stock updated"),
    ("INSTALLED_INTO_ASSEMBLY", 30, "Installed into assembly"),
    ("REMOVED_FROM_ASSEMBLY", 31, "Removed from assembly"),
    ("INSTALLED_CHILD_ITEM", 35, "Installed component item"),
    ("REMOVED_CHILD_ITEM", 36, "Removed component item"),
    ("SPLIT_FROM_PARENT", 40, "Split from parent item"),
    ("SPLIT_CHILD_ITEM", 42, "Split child item"),
    ("MERGED_STOCK_ITEMS", 45, "Merged stock items"),
    ("CONVERTED_TO_VARIANT", 48, "Converted to variant"),
    ("BUILD_OUTPUT_CREATED", 50, "Build order output created"),
    ("BUILD_OUTPUT_COMPLETED", 55, "Build order output completed"),
    ("BUILD_OUTPUT_REJECTED", 56, "Build order output rejected"),
    ("BUILD_CONSUMED", 57, "Consumed by build order"),
    ("SHIPPED_AGAINST_SALES_ORDER", 60, "Shipped against Sales Order"),
    ("RECEIVED_AGAINST_PURCHASE_ORDER", 70, "Received against Purchase Order"),
    ("RETURNED_AGAINST_RETURN_ORDER", 80, "Returned against Return Order"),
    ("SENT_TO_CUSTOMER", 100, "Sent to customer"),
    ("RETURNED_FROM_CUSTOMER", 105, "Returned from customer"),
]

# key in the /api/generic/status/ document -> (class name, values)
STATUS_CLASSES = {
    "BuildStatus": ("BuildStatus", _values(
        ("PENDING", 10, "Pending", "secondary"), ("PRODUCTION", 20, "Production", "primary"),
        ("ON_HOLD", 25, "On Hold", "warning"), ("CANCELLED", 30, "Cancelled", "danger"),
        ("COMPLETE", 40, "Complete", "success"))),
    "PurchaseOrderStatus": ("PurchaseOrderStatus", _values(
        ("PENDING", 10, "Pending", "secondary"), ("PLACED", 20, "Placed", "primary"),
        ("ON_HOLD", 25, "On Hold", "warning"), ("COMPLETE", 30, "Complete", "success"),
        ("CANCELLED", 40, "Cancelled", "danger"), ("LOST", 50, "Lost", "warning"),
        ("RETURNED", 60, "Returned", "warning"))),
    "SalesOrderStatus": ("SalesOrderStatus", _values(
        ("PENDING", 10, "Pending", "secondary"), ("IN_PROGRESS", 15, "In Progress", "primary"),
        ("SHIPPED", 20, "Shipped", "success"), ("ON_HOLD", 25, "On Hold", "warning"),
        ("COMPLETE", 30, "Complete", "success"), ("CANCELLED", 40, "Cancelled", "danger"),
        ("LOST", 50, "Lost", "warning"), ("RETURNED", 60, "Returned", "warning"))),
    "ReturnOrderStatus": ("ReturnOrderStatus", _values(
        ("PENDING", 10, "Pending", "secondary"), ("IN_PROGRESS", 20, "In Progress", "primary"),
        ("ON_HOLD", 25, "On Hold", "warning"), ("COMPLETE", 30, "Complete", "success"),
        ("CANCELLED", 40, "Cancelled", "danger"))),
    "ReturnOrderLineStatus": ("ReturnOrderLineStatus", _values(
        ("PENDING", 10, "Pending", "secondary"), ("RETURN", 20, "Return", "success"),
        ("REPAIR", 30, "Repair", "primary"), ("REPLACE", 40, "Replace", "warning"),
        ("REFUND", 50, "Refund", "info"), ("REJECT", 60, "Reject", "danger"))),
    "StockStatus": ("StockStatus", _values(
        ("OK", 10, "OK", "success"), ("ATTENTION", 50, "Attention needed", "warning"),
        ("DAMAGED", 55, "Damaged", "warning"), ("DESTROYED", 60, "Destroyed", "danger"),
        ("REJECTED", 65, "Rejected", "danger"), ("LOST", 70, "Lost", "dark"),
        ("QUARANTINED", 75, "Quarantined", "info"), ("RETURNED", 85, "Returned", "warning"))),
    "StockHistoryCode": ("StockHistoryCode",
                         _values(*[(n, k, lbl, "secondary") for n, k, lbl in _HISTORY])),
    "DataImportStatusCode": ("DataImportStatusCode", _values(
        ("INITIAL", 0, "Initializing", "secondary"), ("MAPPING", 10, "Mapping Columns", "primary"),
        ("IMPORTING", 20, "Importing Data", "primary"),
        ("PROCESSING", 30, "Processing Data", "primary"), ("COMPLETE", 40, "Complete", "success"))),
    "MachineStatus": ("MachineStatus", {}),
    "MachineStatus__LabelPrinterStatus": ("LabelPrinterStatus", _values(
        ("CONNECTED", 100, "Connected", "success"), ("UNKNOWN", 101, "Unknown", "secondary"),
        ("PRINTING", 110, "Printing", "primary"), ("NO_MEDIA", 301, "No media", "warning"),
        ("PAPER_JAM", 302, "Paper jam", "warning"),
        ("DISCONNECTED", 400, "Disconnected", "danger"))),
}

# the choices of a custom state's `reference_status` (InvenTree 264's list)
REFERENCE_STATUSES = ("BuildStatus", "DataImportStatusCode", "MachineStatus",
                      "PurchaseOrderStatus", "ReturnOrderLineStatus", "ReturnOrderStatus",
                      "SalesOrderStatus", "StockHistoryCode", "StockStatus")


def builtin_keys(reference: str) -> set[int]:
    return {v["key"] for v in STATUS_CLASSES[reference][1].values()}
