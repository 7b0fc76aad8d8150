"""Cloud Demand & Capacity: regional CPU, storage and active-user demand, its data and (later) its plans.

Data layer: ``generate_demand`` (the documented default data), ``read_demand`` / ``read_demand_csv``
(three detected layouts), ``DemandData`` (panel, regions with country and time zone, capacity, known launches) and the
region-name country guess in ``regions``.
"""

from core.demand.data import DemandData, series_name
from core.demand.formats import long_table, read_capacity, read_demand, read_demand_csv, read_launches
from core.demand.generator import REGIONS, RegionSpec, generate_demand
from core.demand.regions import CountryGuess, country_code, guess_country, resolve_regions

__all__ = [
    "DemandData",
    "series_name",
    "generate_demand",
    "RegionSpec",
    "REGIONS",
    "read_demand",
    "read_demand_csv",
    "read_capacity",
    "read_launches",
    "long_table",
    "CountryGuess",
    "guess_country",
    "country_code",
    "resolve_regions",
]
