"""What the database server does well: FerretDB v1 (SQLite) differs from MongoDB in these.

Auth starts while the database is down (the indexes are made once it answers), so until
``detect`` has heard from the server the adapters take the branches that are correct on both.
"""

from dataclasses import dataclass
from typing import Any

from shared.clients import MongoClient, server_is_ferretdb

Document = dict[str, Any]


@dataclass
class Capabilities:
    # ``{_id: {$in: [...]}}`` uses the primary key (FerretDB pushes down only ``_id`` equality).
    id_lists_use_index: bool = False
    # ``count_documents`` (an aggregation) uses the index; FerretDB counts in SQL only for the
    # ``count`` command (our patch) and decodes every matching document for an aggregation.
    aggregated_counts_use_index: bool = False

    async def detect(self, client: MongoClient) -> None:
        mongodb = not await server_is_ferretdb(client)
        self.id_lists_use_index = mongodb
        self.aggregated_counts_use_index = mongodb
