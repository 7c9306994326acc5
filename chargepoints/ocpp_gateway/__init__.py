"""OCPP 1.6J / 2.0.1 gateway (issue 16): the WebSocket server (`ocpp_server`), its handlers and the Redis RPC
that lets Django/Celery send commands to the process holding a charge point's socket."""
