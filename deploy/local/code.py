"""Print the current TOTP code of a demo user: `python -m deploy.local.code teacher`.

A stand-in for an authenticator app on a developer's machine (the secrets are in
var/demo.json; scan the otpauth URI into a real app if you prefer).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pyotp


def main() -> None:
    data_dir = Path(os.environ.get("PLATFORM_DATA_DIR", "var"))
    demo = json.loads((data_dir / "demo.json").read_text())
    who = sys.argv[1] if len(sys.argv) > 1 else ""
    user = demo["operator"] if who == "operator" else demo["users"].get(who)
    if not user or not user.get("totp_secret"):
        sys.exit(f"usage: python -m deploy.local.code <operator|admin|director|teacher>; no TOTP for {who!r}")
    print(pyotp.TOTP(user["totp_secret"]).now())


if __name__ == "__main__":
    main()
