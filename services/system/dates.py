"""How InvenTree's serializers of these models show a moment: `2024-12-17 10:00`."""
from datetime import datetime


def minutes(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")
