"""Which database objects the models describe: the reading table's monthly partitions are made at run time."""
from backend.meters.partitions import DEFAULT_PARTITION, month_of_table


def is_partition(name: str | None) -> bool:
    return name == DEFAULT_PARTITION or (name is not None and month_of_table(name) is not None)


def is_model_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's include_object: leave the partitions (and their indexes) out of autogenerate."""
    table = obj.name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return not is_partition(table)
