"""Entry point of the controller process: `python -m orchestrator.controller.run PORT`.

os-ken 4.x has no `osken-manager`; apps are started through AppManager (PLATFORM.md).
Listens for OpenFlow only on 127.0.0.1.
"""
import sys

from os_ken import cfg
from os_ken.base.app_manager import AppManager


def main() -> None:
    port = sys.argv[1]
    cfg.CONF(args=["--ofp-tcp-listen-port", port, "--ofp-listen-host", "127.0.0.1"],
             project="os_ken")
    AppManager.run_apps(["orchestrator.controller.app"])


if __name__ == "__main__":
    main()
