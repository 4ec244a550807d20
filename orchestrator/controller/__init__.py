"""The os-ken OpenFlow controller that emulates the wireless layer 2 (association, handoff)
and each access point's IEEE 802.1X controlled port. Decisions live in `policy` (pure);
`app` only talks OpenFlow."""
