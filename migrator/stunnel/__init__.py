"""stunnel TLS-PSK tunnels: the inventory model, config rendering, the safety invariants,
live-state comparison (``ss``) and a parse check with the real stunnel binary.

Modules: :mod:`.model` (inventory), :mod:`.load` (YAML with positions), :mod:`.render`
(off.conf, systemd drop-in), :mod:`.psk` (PSK files), :mod:`.validate` (invariants,
live listeners), :mod:`.parse_ss`, :mod:`.conffile`, :mod:`.parse` (``parse_check``),
:mod:`.cli` (``migrator stunnel ...``).
"""
