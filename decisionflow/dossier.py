"""A decision's dossier: every record as JSON, the files, a printable summary, a signed manifest."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import datetime
from typing import Any

from jinja2 import Environment, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from decisionflow import queries
from decisionflow.attachments import AttachmentStore
from decisionflow.audit import format_time
from decisionflow.definitions import Definition
from decisionflow.models import AuditChainHead, Decision, Department

SUMMARY = Environment(autoescape=select_autoescape(default=True)).from_string("""<!doctype html>
<html lang="zh-Hans"><head><meta charset="utf-8"><title>{{ d.title }}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse;width:100%}
td,th{border:1px solid #999;padding:.3em;text-align:left;vertical-align:top;font-size:.9em}
code{font-size:.8em;word-break:break-all}</style></head><body>
<h1>{{ d.title }}</h1>
<p>决策编号 / Decision no. {{ d.id }} · {{ definition.title.zh }} / {{ definition.title.en }} v{{ d.definition_version }}</p>
<p>承办单位 / Undertaking unit: {{ unit.name_zh }} / {{ unit.name_en }}</p>
<p>当前阶段 / Stage: {{ state.label.zh }} / {{ state.label.en }}</p>
<p>导出时间 / Exported: {{ exported }}</p>
<h2>程序记录 / Procedure record</h2>
<table><tr><th>#</th><th>时间 (UTC) / Time</th><th>人员 / Person</th><th>角色 / Role</th><th>事项 / Action</th>
<th>结果 / Outcome</th><th>阶段 / Stage</th><th>哈希 / Hash</th></tr>
{% for e in events %}<tr><td>{{ e.seq }}</td><td>{{ e.occurred_at }}</td><td>{{ e.actor_name }}</td>
<td>{{ e.actor_role }}</td><td>{{ e.action }}</td><td>{{ e.outcome }}</td>
<td>{{ e.state_before }} → {{ e.state_after }}</td><td><code>{{ e.hash }}</code></td></tr>{% endfor %}
</table>
<h2>草案版本 / Draft versions</h2>
<table><tr><th>版本</th><th>SHA-256</th><th>修改说明 / Change note</th></tr>
{% for v in drafts %}<tr><td>v{{ v.number }}</td><td><code>{{ v.sha256 }}</code></td><td>{{ v.change_note }}</td></tr>{% endfor %}
</table>
<p>各文件的 SHA-256 见 manifest.json / Each file's SHA-256 is in manifest.json.</p>
</body></html>""")


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=str).encode(
        "utf-8"
    )


def build_dossier(
    session: Session,
    definition: Definition,
    decision: Decision,
    store: AttachmentStore,
    now: datetime,
) -> bytes:
    """The dossier ZIP of one decision; the manifest holds every file's SHA-256 and the chain hashes."""
    events = queries.timeline(session, decision.id)
    versions = queries.drafts(session, decision.id)
    files: dict[str, bytes] = {}
    files["decision.json"] = _json(
        {
            "id": decision.id,
            "title": decision.title,
            "category": decision.category,
            "procedure": decision.procedure,
            "definition_version": decision.definition_version,
            "state": decision.state,
            "branch_states": decision.branch_states,
            "flags": decision.flags,
            "version": decision.version,
            "created_at": decision.created_at,
            "updated_at": decision.updated_at,
        }
    )
    files["records.json"] = _json(
        [
            {
                "id": r.id,
                "kind": r.kind,
                "data": r.data,
                "state": r.state,
                "branch": r.branch,
                "created_by": r.author,
                "created_at": r.created_at,
            }
            for r in queries.records(session, decision.id)
        ]
    )
    files["audit_events.json"] = _json([e.__dict__ for e in events])
    for version in versions:
        files[f"drafts/v{version.number}.txt"] = version.content.encode("utf-8")
    for attachment in queries.attachments(session, decision.id):
        files[f"attachments/{attachment.id}-{attachment.filename}"] = store.read(attachment.sha256)
    unit = session.get(Department, decision.undertaking_unit_id)
    files["summary.html"] = SUMMARY.render(
        d=decision,
        definition=definition,
        state=definition.state(decision.state),
        unit=unit,
        events=events,
        drafts=versions,
        exported=format_time(now),
    ).encode("utf-8")
    head = session.execute(select(AuditChainHead.seq, AuditChainHead.hash)).one()
    manifest = {
        "decision_id": decision.id,
        "exported_at": format_time(now),
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
        "audit_chain": {
            "events": [{"seq": e.seq, "hash": e.hash} for e in events],
            "head": {"seq": head.seq, "hash": head.hash},
        },
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(files.items()):
            archive.writestr(name, data)
        archive.writestr("manifest.json", _json(manifest))
    return buffer.getvalue()
