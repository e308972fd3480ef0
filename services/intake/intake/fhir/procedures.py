"""Procedure (radiotherapy, spinal surgery, vertebroplasty, nerve block, ...) -> carepath.treatment.changed.v1."""

from __future__ import annotations

from typing import Any

from intake.fhir import reading
from intake.fhir.context import Context
from intake.fhir.mapped import Mapped, build
from intake.fhir.medications import TREATMENT, agent_name
from intake.fhir.node import Node

_STATUS = {"completed": "administered", "in-progress": "started", "stopped": "stopped"}


def map_procedure(root: Node, ctx: Context) -> Mapped:
    code = root.require("code")
    entry = reading.coded(ctx.codes.table("procedures"), code, "a procedure")
    change, status_node = reading.status(root, _STATUS, "a Procedure")
    patient = reading.patient(root, ctx)
    if change == "started":
        times: tuple[str, ...] = ("performedDateTime", "performedPeriod.start")
    else:
        times = ("performedDateTime", "performedPeriod.end", "performedPeriod.start")
    when, when_node = reading.first_time(root, times, date_allowed=True)
    data: dict[str, Any] = {"category": entry["category"], "change": change}
    origins = {
        "/subject": root.field("subject").field("reference"),
        "/time": when_node,
        "/data/category": code,
        "/data/change": status_node,
    }
    agent = agent_name(entry, code)
    if agent:
        data["agent"] = agent
    sites = root.items("bodySite")
    if sites:
        site = reading.coded(ctx.codes.table("spinal_sites"), sites[0], "a body site")
        data["target_site"] = site["site"]
        origins["/data/target_site"] = sites[0]
    return build(event_type=TREATMENT, patient=patient, time=when, data=data, origins=origins, root=root)
