#!/usr/bin/env python3
"""The runbook with entra-failover.exe under Wine (run by check.sh, which builds and sets Wine up).

Part 1, the .exe's own rehearsal tenant in its default data folder (%LOCALAPPDATA%): status,
enable-phs (the Connect script to a folder with spaces), failover, test-signin, the morning after and
signins, a federated login at the farm (--farm), switch-back, verify, staged rollout, history; after each change the tenant is read by the native Linux binary from the same folder, so
the state is checked by a second implementation, not by the .exe's own word.

Part 2, a profile (client secret, `ca_file` with spaces and backslashes) pointing at a tenant that
the native binary serves: the same steps, the tenant read through the native binary; a profile
without the CA shows a TLS failure with its cause. Exits non-zero on the first check that fails.
"""

import argparse
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time

ARGS = None
STEP = [0]
T0 = time.monotonic()


def say(msg):
    print(f"windows check [{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def fail(msg):
    print(f"windows check: FAILED: {msg}", flush=True)
    sys.exit(1)


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENTRA_FAILOVER")}
    env.update(extra)
    return env


def exe(*args, stdin=None, ok=True, env=None):
    """Runs the .exe under Wine; returns (exit code, stdout, stderr)."""
    STEP[0] += 1
    r = subprocess.run(
        ["wine", ARGS.exe, *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=300,
        env=env or clean_env(),
    )
    # Wine's own chatter (fixme lines) goes to stderr; ours is the rest.
    err = "\n".join(l for l in r.stderr.splitlines() if not l.startswith(("fixme:", "err:", "wine:")))
    say(f"entra-failover.exe {' '.join(args)} -> exit {r.returncode}")
    if ok and r.returncode != 0:
        fail(f"{' '.join(args)} exited {r.returncode}\nstdout: {r.stdout}\nstderr: {err}")
    return r.returncode, r.stdout, err


def exe_json(*args, **kw):
    code, out, err = exe(*args, "--json", **kw)
    try:
        return json.loads(out)
    except json.JSONDecodeError:
        fail(f"{' '.join(args)}: not JSON: {out[:500]} {err[:500]}")


def native_json(home, *args):
    r = subprocess.run(
        [ARGS.native, *args, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(ENTRA_FAILOVER_HOME=home),
    )
    if r.returncode != 0:
        fail(f"native {' '.join(args)}: exit {r.returncode}: {r.stderr}")
    return json.loads(r.stdout)


def domain(status, name):
    for d in status["domains"]:
        if d["id"] == name:
            return d
    fail(f"{name} not in status")


CHECKS = [0]


def expect(cond, what):
    if not cond:
        fail(what)
    CHECKS[0] += 1
    say(f"  ok: {what}")


def windows_path(p):
    return "Z:" + p.replace("/", "\\")


def part1_in_process(prefix):
    say("part 1: the .exe's own rehearsal tenant, in %LOCALAPPDATA%")
    st = exe_json("status")
    expect(st["simulated"] is True and st["password_hash_sync"] is False, "status: simulated, PHS off")
    homes = glob.glob(os.path.join(prefix, "drive_c/users/*/AppData/Local/entra-failover"))
    expect(len(homes) == 1, f"the data folder is under %LOCALAPPDATA%: {homes}")
    home = homes[0]
    expect(os.path.exists(os.path.join(home, "rehearsal")), "the tenant lives in it")
    native = lambda: native_json(home, "status")
    expect(domain(native(), "contoso.com")["authentication_type"] == "Federated",
           "native read: contoso.com federated")

    info = exe_json("rehearse", "info")
    user = next(u for u in info["users"] if u.endswith("@contoso.com"))

    scripts = os.path.join(prefix, "drive_c", "Failover scripts")
    os.makedirs(scripts, exist_ok=True)
    r = exe_json("enable-phs", "--yes", "--connect-script", r"C:\Failover scripts\enable phs.ps1")
    expect(r["result"]["changed"] is True, "enable-phs changed the flag")
    ps1 = os.path.join(scripts, "enable phs.ps1")
    data = open(ps1, "rb").read()
    expect(data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b""),
           "the Connect script landed at a path with spaces, UTF-8 with BOM and CRLF")
    expect(b"Set-ADSyncAADPasswordSyncConfiguration" in data, "it is the ADSync script")
    expect(native()["password_hash_sync"] is True, "native read: PHS on")
    exe_json("rehearse", "connect-script")
    exe_json("rehearse", "sync")
    expect(native()["password_hashes_arriving"] is True, "native read: hashes arriving")

    exe_json("rehearse", "farm", "sts.contoso.com", "down")
    r = exe_json("failover", "--domain", "contoso.com", "--yes", "--wait")
    expect(all(d["outcome"] == "converted" for d in r["result"]["domains"]), "failover converted")
    st = native()
    expect(domain(st, "contoso.com")["authentication_type"] == "Managed"
           and domain(st, "eu.contoso.com")["authentication_type"] == "Managed",
           "native read: contoso.com and eu.contoso.com managed")
    backups = glob.glob(os.path.join(home, "backups", "*", "*.json"))
    expect(len(backups) >= 1, f"the backup is in the data folder ({len(backups)})")

    v = exe_json("test-signin", "--upn", user, "--password-stdin", stdin=info["user_password"] + "\n")
    expect(v["realm"] == "Managed" and v["password_test"]["ok"] is True, f"{user} signs in with the password hash")
    # The morning after, and who signs in: the sign-in log read by the .exe.
    exe_json("rehearse", "morning", "--domain", "contoso.com", "--users", "20", "--wrong-password", "3")
    w = exe_json("signins", "--domain", "contoso.com", "--since", "1h")
    expect(w["failed"] == 3 and w["failures"][0]["code"] == 50126,
           f"signins: the morning's 3 wrong passwords among {w['total']} sign-ins")

    exe_json("rehearse", "farm", "sts.contoso.com", "up")
    # Before switching back: the farm signs a user in as Entra ID would ask it (WS-Trust).
    v = exe_json("test-signin", "--upn", user, "--password-stdin", "--farm", "sts.contoso.com",
                 stdin=info["user_password"] + "\n")
    expect(v["federated"]["verdict"] == "signed_in", "federated login at the farm, held against the backup")
    r = exe_json("switch-back", "--domain", "contoso.com", "--from-backup", "latest", "--yes", "--wait")
    expect(r["result"]["outcome"] == "federated", "switch-back federated contoso.com")
    st = native()
    expect(domain(st, "contoso.com")["authentication_type"] == "Federated", "native read: contoso.com federated again")
    expect(domain(st, "contoso.com")["issuer_uri"] == "http://sts.contoso.com/adfs/services/trust",
           "native read: the issuer restored byte for byte")

    v = exe_json("verify", "--domain", "contoso.com")
    expect(v["passed"] is True, "verify passes")
    # Staged rollout: a pilot group, read back by the native binary.
    exe_json("staged-rollout", "enable", "--group", "PHS pilot", "--yes")
    sr = native_json(home, "staged-rollout")
    expect(sr["enabled"] is True and sr["groups"][0]["display_name"] == "PHS pilot",
           "native read: staged rollout on for PHS pilot")
    h = exe_json("history")
    intents = [e for e in h if e["phase"] == "intent"]
    dones = [e for e in h if e["phase"] == "done"]
    expect(len(intents) == len(dones) == 4, f"history: 4 changes, each intent done ({len(intents)}/{len(dones)})")
    code, out, _ = exe("resume", ok=True)
    expect("Nothing was interrupted" in out, "resume: nothing left to finish")


def part2_native_emulator(prefix):
    say("part 2: a profile pointing at a tenant the native binary serves")
    nhome = os.path.join(ARGS.work, "native home")
    os.makedirs(nhome)
    # The built-in app may only read the sync settings (enable-phs refuses it, naming the permission):
    # this tenant's app has been granted what the runbook needs, as an administrator would grant it.
    scenario = os.path.join(ARGS.work, "granted.toml")
    with open(scenario, "w") as f:
        f.write(
            "[app]\n"
            "display_name = \"entra-failover (windows check)\"\n"
            "client_id = \"5e0c1f7a-3b9d-4c2e-8a6f-1d2b3c4d5e6f\"\n"
            "roles = [\"Domain-InternalFederation.ReadWrite.All\", \"Domain.Read.All\", "
            "\"Organization.Read.All\", \"OnPremDirectorySynchronization.ReadWrite.All\", "
            "\"User.Read.All\", \"Application.Read.All\", \"Synchronization.ReadWrite.All\", "
            "\"RoleManagement.Read.Directory\"]\n"
            # The native binary reads the tenant as the rehearsal's admin: the built-in delegated ones.
            "scopes = [\"Domain-InternalFederation.ReadWrite.All\", \"Domain.ReadWrite.All\", "
            "\"Organization.Read.All\", \"OnPremDirectorySynchronization.ReadWrite.All\", "
            "\"User.Read.All\", \"User.Read\", \"Application.Read.All\", "
            "\"Synchronization.ReadWrite.All\", \"RoleManagement.Read.Directory\"]\n"
        )
    emu = subprocess.Popen(
        [ARGS.native, "emulator", "--json", "--scenario", scenario],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=clean_env(ENTRA_FAILOVER_HOME=nhome),
    )
    try:
        line = emu.stdout.readline()
        if not line:
            fail("the native emulator printed nothing")
        info = json.loads(line)
        # A TLS-inspecting proxy's CA, as an administrator would keep it: a folder with a space.
        ca_dir = os.path.join(prefix, "drive_c", "Proxy CA")
        os.makedirs(ca_dir, exist_ok=True)
        shutil.copy(info["ca_file"], os.path.join(ca_dir, "rehearsal root.pem"))
        homes = glob.glob(os.path.join(prefix, "drive_c/users/*/AppData/Local/entra-failover"))
        whome = homes[0]
        with open(os.path.join(whome, "config.toml"), "w") as f:
            f.write(
                "[profiles.native]\n"
                f"tenant = \"{info['tenant_id']}\"\n"
                "auth = \"client-secret\"\n"
                f"client_id = \"{info['client_id']}\"\n"
                "client_secret_env = \"NATIVE_SECRET\"\n"
                f"graph_url = \"{info['graph_url']}\"\n"
                f"login_url = \"{info['login_url']}\"\n"
                "ca_file = 'C:\\Proxy CA\\rehearsal root.pem'\n"
                "\n[profiles.noca]\n"
                f"tenant = \"{info['tenant_id']}\"\n"
                "auth = \"client-secret\"\n"
                f"client_id = \"{info['client_id']}\"\n"
                "client_secret_env = \"NATIVE_SECRET\"\n"
                f"graph_url = \"{info['graph_url']}\"\n"
                f"login_url = \"{info['login_url']}\"\n"
            )
        env = clean_env(NATIVE_SECRET=info["client_secret"])
        run = lambda *a, **kw: exe_json(*a, "--profile", "native", env=env, **kw)
        native = lambda: native_json(nhome, "status")

        st = run("status")
        expect(st["simulated"] is False and domain(st, "fabrikam.com")["authentication_type"] == "Federated",
               "status through the profile: a real-tenant view, fabrikam.com federated")
        r = run("enable-phs", "--yes")
        expect(r["result"]["changed"] is True, "enable-phs changed the flag")
        expect(native()["password_hash_sync"] is True, "native read: PHS on")
        native_json(nhome, "rehearse", "connect-script")
        native_json(nhome, "rehearse", "sync")
        # sts.contoso.com resolves nowhere here: to the profile, the farm is down.
        r = run("failover", "--domain", "fabrikam.com", "--yes", "--wait")
        expect(r["result"]["domains"][0]["outcome"] == "converted", "failover converted fabrikam.com")
        expect(domain(native(), "fabrikam.com")["authentication_type"] == "Managed", "native read: fabrikam.com managed")
        users = native_json(nhome, "rehearse", "info")["users"]
        user = next(u for u in users if u.endswith("@fabrikam.com"))
        v = run("test-signin", "--upn", user, "--password-stdin", stdin=info["user_password"] + "\n")
        expect(v["realm"] == "Managed" and v["password_test"]["ok"] is True, f"{user} signs in")
        # The farm is unreachable from a real profile here, so --force.
        r = run("switch-back", "--domain", "fabrikam.com", "--from-backup", "latest", "--yes", "--force", "--wait")
        expect(r["result"]["outcome"] == "federated", "switch-back federated fabrikam.com")
        st = native()
        expect(domain(st, "fabrikam.com")["authentication_type"] == "Federated"
               and domain(st, "fabrikam.com")["issuer_uri"] == "http://fabrikam.com/adfs/services/trust/",
               "native read: fabrikam.com federated, its own issuer")
        code, out, err = exe("verify", "--domain", "fabrikam.com", "--profile", "native", env=env, ok=False)
        expect(code == 1 and "sts.contoso.com" in out, "verify fails and names the farm it cannot reach")
        h = run("history")
        # Same tenant id as part 1's rehearsal tenant, so the same journal: part 2's are the last six.
        ops = [(e["operation"], e["domain"], e["phase"]) for e in h][-6:]
        # Part 1 made four changes (eight lines), then these six.
        expect(len(h) == 14 and ops == [("enable-phs", "-", "intent"), ("enable-phs", "-", "done"),
                       ("failover", "fabrikam.com", "intent"), ("failover", "fabrikam.com", "done"),
                       ("switch-back", "fabrikam.com", "intent"), ("switch-back", "fabrikam.com", "done")],
               f"history through the profile: enable-phs, failover, switch-back, each done: {ops}")
        code, out, err = exe("status", "--profile", "noca", env=env, ok=False)
        lines = err.strip().splitlines()
        expect(code == 1 and len(lines) == 1
               and lines[0].startswith("entra-failover: sign-in failed: certificate not trusted (invalid peer certificate: UnknownIssuer)"),
               f"without the CA: refused on one line, the cause first: {lines}")
    finally:
        emu.send_signal(signal.SIGINT)
        try:
            emu.wait(timeout=30)
        except subprocess.TimeoutExpired:
            emu.kill()


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--exe", required=True)
    p.add_argument("--native", required=True)
    p.add_argument("--work", required=True)
    ARGS = p.parse_args()
    ARGS.exe = os.path.abspath(ARGS.exe)
    ARGS.native = os.path.abspath(ARGS.native)
    prefix = os.environ["WINEPREFIX"]
    code, out, _ = exe("--version")
    say(f"  {out.strip()}")
    part1_in_process(prefix)
    part2_native_emulator(prefix)
    print(f"windows check: {STEP[0]} runs of the .exe", flush=True)
    print(f"windows: {CHECKS[0]} passed, 0 failed", flush=True)


if __name__ == "__main__":
    main()
