//! Firewall state the plugins own: masquerade (bridge, ptp) and MAC
//! spoof-check (bridge). The only module that runs `iptables` or `nft`.
