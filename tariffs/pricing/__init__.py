"""OCPI 2.2.1 tariff engine (pure functions, standard library only). Import from `tariffs.engine`."""
