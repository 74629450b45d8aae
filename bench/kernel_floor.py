"""The kernel floor of measurement 1: start a kernel with jupyter_client, execute one cell,
stop it. Nothing else: no notebook, no storage. Run as `.venv/bin/python bench/kernel_floor.py`."""

from __future__ import annotations

from jupyter_client.manager import start_new_kernel


def main() -> None:
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        reply = kc.execute_interactive(
            "x = 1\nprint(x + 1)", timeout=60, output_hook=lambda _: None
        )
        if reply["content"]["status"] != "ok":
            raise SystemExit(f"the cell failed: {reply['content']}")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


if __name__ == "__main__":
    main()
