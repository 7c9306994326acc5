"""Commands (commands.md), both roles of this platform; import from the module of the role:

- `receiver`: CPO role, Commands Receiver (`command_receive`, `command_execute` through the charge point gateway);
- `results`: CPO role, the CommandResult of a received command, POSTed to the eMSP's response_url;
- `sender`: eMSP role, Commands Sender (`command_send`, `command_result_receive`, timeouts of our commands);
- `serializers`: the request objects, CommandResponse and CommandResult.

Reservations (RESERVE_NOW, CANCEL_RESERVATION, expiry, cancellation by us) are in sessions/reservations.py.
"""
