"""A VM life cycle driven by proxmoxer, the Python client written against real PVE.

Run by test/peers/proxmoxer.test.ts against the simulator. Prints one JSON object per step on
stdout; the test asserts on them. Connection settings come from the environment (the token
secret never from argv): PM_HOST, PM_PORT, PM_TOKEN_ID (user@realm!name), PM_TOKEN_SECRET,
PM_CA_FILE (the simulator's CA: TLS stays verified), PM_NODE, PM_TEMPLATE, PM_NEWID.
"""

import json
import os
import sys

import requests

from proxmoxer import ProxmoxAPI, ResourceException
from proxmoxer.tools import Tasks


def emit(step, **fields):
    print(json.dumps({"step": step, **fields}, sort_keys=True), flush=True)


def wait(api, upid):
    status = Tasks.blocking_status(api, upid, timeout=120, polling_interval=0.05)
    return status["exitstatus"]


def failure(fn):
    try:
        fn()
    except ResourceException as e:
        return {"status_code": e.status_code, "status_message": e.status_message, "content": e.content, "errors": e.errors}
    return None


def main():
    user, token_name = os.environ["PM_TOKEN_ID"].split("!", 1)
    api = ProxmoxAPI(
        os.environ["PM_HOST"],
        port=int(os.environ["PM_PORT"]),
        user=user,
        token_name=token_name,
        token_value=os.environ["PM_TOKEN_SECRET"],
        verify_ssl=os.environ["PM_CA_FILE"],
        timeout=30,
    )
    node = os.environ["PM_NODE"]
    template = int(os.environ["PM_TEMPLATE"])
    newid = int(os.environ["PM_NEWID"])
    vm = api.nodes(node).qemu(newid)

    # Without the simulator's CA the certificate is rejected: verification is really on.
    untrusted = ProxmoxAPI(os.environ["PM_HOST"], port=int(os.environ["PM_PORT"]), user=user, token_name=token_name, token_value=os.environ["PM_TOKEN_SECRET"], verify_ssl=True, timeout=30)
    try:
        untrusted.version.get()
        emit("untrusted", rejected=False)
    except requests.exceptions.SSLError as e:
        emit("untrusted", rejected=True, error=type(e).__name__)

    emit("version", version=api.version.get()["version"])
    nextid = api.cluster.nextid.get()
    emit("nextid", value=nextid, type=type(nextid).__name__)

    upid = api.nodes(node).qemu(template).clone.post(newid=newid, name="peer-proxmoxer", full=1)
    emit("clone", upid=upid, task=Tasks.decode_upid(upid), exitstatus=wait(api, upid))
    resources = [r for r in api.cluster.resources.get(type="vm") if r["vmid"] == newid]
    emit("resources", items=resources)

    api.nodes(node).qemu(newid).config.put(cores=2, memory=1536, tags="Peer,proxmoxer;peer", description="cloned by proxmoxer")
    config = vm.config.get()
    emit("configure", config=config)

    upid = vm.status.start.post()
    emit("start", exitstatus=wait(api, upid), status=vm.status.current.get()["status"])
    emit("start-again", exitstatus=wait(api, vm.status.start.post()))

    upid = vm.snapshot.post(snapname="peer1", description="by proxmoxer")
    emit("snapshot", exitstatus=wait(api, upid), names=sorted(s["name"] for s in vm.snapshot.get()))

    upid = vm.status.stop.post()
    emit("stop", exitstatus=wait(api, upid), status=vm.status.current.get()["status"])

    upid = vm.snapshot("peer1").delete()
    emit("delsnapshot", exitstatus=wait(api, upid), names=sorted(s["name"] for s in vm.snapshot.get()))

    # Invalid on purpose: marked so the suite's schema check of recorded requests skips it.
    session = api._store["session"]
    session.headers["X-Sim-Negative"] = "1"
    emit("bad-param", error=failure(lambda: vm.config.put(cores="many")))
    del session.headers["X-Sim-Negative"]
    emit("missing-vm", error=failure(lambda: api.nodes(node).qemu(999999).config.get()))

    upid = vm.delete(purge=1)
    emit("delete", exitstatus=wait(api, upid))
    emit("deleted", error=failure(lambda: vm.config.get()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
