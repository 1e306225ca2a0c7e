"""annotate's records as Arrow tables, for Parquet output and Ray Datasets.

The schema is derived from the one declaration of a record
(spacy_mtl.records.Record), between the row's id and its error: a dict is a
map, a list a list, a typed dict a struct. pyarrow is imported only when a
table is made, as Parquet and Ray are optional.
"""

import json
from typing import Any, Dict, List, Union, get_args, get_origin, get_type_hints

from typing_extensions import is_typeddict

from ..records import Record
from .rows import ROW_FIELDS


def records_to_table(records: List[Dict[str, Any]]):
    """Turn records into an Arrow table with the schema of `record_schema`.

    The id column is int64 where every id is an integer, and string otherwise
    (a non-string id written as JSON). annotate's parts always agree: their ids
    are read as the run's id column stores them (spacy_mtl.annotate.ids), so
    that part files merge.

    records (List[Dict[str, Any]]): The records.
    RETURNS (pyarrow.Table): Columns id, the record's fields, and error.
    """
    import pyarrow as pa

    ids = [record["id"] for record in records]
    if all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        id_type = pa.int64()
    else:
        id_type = pa.string()
        # As record_to_json writes them (json: exact floats).
        ids = [i if isinstance(i, str) or i is None else json.dumps(i) for i in ids]
    schema = record_schema(id_type)
    columns = {"id": ids}
    for column in schema.remove(0):
        values = [record[column.name] for record in records]
        if pa.types.is_map(column.type):
            values = [list(value.items()) for value in values]
        columns[column.name] = values
    return pa.table(columns, schema=schema)


def record_schema(id_type):
    """The Arrow schema of annotate's records, derived from spacy_mtl.records.Record.

    id_type (pyarrow.DataType): The id column's type.
    RETURNS (pyarrow.Schema): id, the record's fields (a dict is a map, a list
        a list, a typed dict a struct), and error.
    """
    import pyarrow as pa

    types = {name: _arrow_type(hint) for name, hint in get_type_hints(Record).items()}
    types.update(id=id_type, error=pa.string())
    return pa.schema([(name, types[name]) for name in ROW_FIELDS])


def _arrow_type(hint):
    import pyarrow as pa

    origin, args = get_origin(hint), get_args(hint)
    if origin is Union:  # Optional[X]: every Arrow column takes nulls
        return _arrow_type(next(arg for arg in args if arg is not type(None)))
    if origin is dict:
        return pa.map_(_arrow_type(args[0]), _arrow_type(args[1]))
    if origin is list:
        return pa.list_(_arrow_type(args[0]))
    if is_typeddict(hint):
        return pa.struct([(name, _arrow_type(h)) for name, h in get_type_hints(hint).items()])
    return {str: pa.string(), int: pa.int64(), float: pa.float64(), bool: pa.bool_()}[hint]
