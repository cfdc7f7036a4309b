"""How the audit log reads to an admin: Chinese names for actions, fields and values, and
the people, broadcasts and questions an entry names, by name rather than by id (``Names``,
looked up once per page)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clips.review import STATE_LABELS as CLIP_STATE_LABELS
from moderation.questions import STATE_LABELS
from moderation.staff import ROLE_LABELS

ACTIONS = {
    "staff.create": "添加账号", "staff.role": "修改角色", "staff.disable": "停用账号",
    "staff.enable": "启用账号", "staff.password": "修改密码",
    "session.create": "安排直播", "session.edit": "编辑直播", "session.start": "开始直播",
    "session.end": "结束直播", "session.slow_mode": "慢速模式",
    "session.me_too_order": "“也想问”排序",
    "simulcast.add": "添加转推目标", "simulcast.remove": "删除转推目标",
    "simulcast.key": "重新输入转推密钥",
    "question.approve": "通过问题", "question.edit": "编辑问题", "question.merge": "合并问题",
    "question.reply": "文字回复", "question.decline": "拒绝问题", "question.pin": "置顶",
    "question.move": "调整顺序", "question.on_air": "上直播", "question.answered": "标记已解答",
    "question.requeue": "退回队列", "question.skip": "跳过", "caption.add": "发送字幕",
    "question.note": "给主持人备注", "question.move_to_host": "转给主持人",
    "viewer.timeout": "禁言观众", "viewer.ban": "封禁观众", "viewer.unrestrict": "解除限制",
    "terms.add": "添加屏蔽词", "terms.delete": "删除屏蔽词",
    "reasons.add": "添加拒绝原因", "reasons.delete": "删除拒绝原因",
    "replies.add": "添加回复模板", "replies.delete": "删除回复模板",
    "data.service_catalog.save": "保存业务目录", "data.service_catalog.restore": "恢复内置业务目录",
    "data.synonyms.save": "保存搜索词表", "data.synonyms.restore": "恢复内置搜索词表",
    "data.schedule.save": "保存直播时间表", "data.schedule.restore": "恢复内置直播时间表",
    "catalog.item_add": "添加目录事项", "catalog.item_edit": "修改目录事项",
    "catalog.item_delete": "删除目录事项",
    "data.knowledge.save": "保存知识库", "knowledge.entry_add": "添加知识库问答",
    "knowledge.entry_edit": "修改知识库问答", "knowledge.entry_delete": "删除知识库问答",
    "knowledge.import": "导入知识库 CSV",
    "clip.create": "手动剪辑片段", "clip.edit": "编辑片段", "clip.trim": "调整出入点",
    "clip.retry": "重试剪辑", "clip.publish": "发布片段", "clip.unpublish": "下架片段",
    "clip.delete": "删除片段",
    "replay.publish": "公开回放", "replay.unpublish": "撤回回放",
    "replay.expire": "按保存期限删除录像",
}
FIELDS = {
    "role": "角色", "disabled": "已停用", "state": "状态", "category": "分类",
    "item_id": "业务事项", "service_link": "办理链接", "host_id": "主持人", "text": "内容",
    "reply": "回复", "decline_reason": "原因", "merged_into": "合并到", "position": "顺序",
    "pinned": "置顶", "on_air_at": "上直播时间", "answered_at": "解答时间", "title": "标题",
    "description": "简介", "scheduled_start": "计划开始", "scheduled_end": "计划结束",
    "host_ids": "主持人", "presenter": "主播", "status": "状态", "source": "视频源",
    "slow_mode_seconds": "慢速模式（秒）", "me_too_raises": "“也想问”多的自动靠前",
    "until": "截止", "reason": "原因", "action": "处理",
    "chars": "字符数", "name": "名称", "keywords": "关键词", "channel": "办理渠道",
    "link": "办理链接", "link_status": "链接状态", "portal": "入口首页", "verify": "待核实说明",
    "start_at": "入点", "end_at": "出点", "summary": "摘要", "flags": "备注",
}
TARGETS = {"staff": "账号", "question": "问题", "session": "直播", "viewer": "观众",
           "term": "屏蔽词", "reasons": "拒绝原因", "replies": "回复模板", "data": "数据文件",
           "catalog_item": "目录事项", "clip": "片段"}
STATUS = {"scheduled": "即将开始", "live": "直播中", "ended": "已结束"}
TERM_ACTIONS = {"hold": "待审核", "reject": "直接拒绝"}


EXCERPT = 40  # characters of a question's text shown for it


@dataclass
class Names:
    """What the ids on one page of the log stand for: staff (by account name and by id),
    broadcasts, questions (an excerpt of their text) and catalog items."""

    staff: dict[str, str] = field(default_factory=dict)  # account name -> display name
    staff_ids: dict[str, str] = field(default_factory=dict)  # id -> display name
    sessions: dict[str, str] = field(default_factory=dict)  # id -> title
    questions: dict[str, str] = field(default_factory=dict)  # id -> excerpt
    items: dict[str, str] = field(default_factory=dict)  # catalog item id -> name

    def person(self, name: str) -> str:
        shown = self.staff.get(name, "")
        return f"{shown}（{name}）" if shown and shown != name else name

    def question(self, question_id: str) -> str:
        text = self.questions.get(question_id)
        if text is None:
            return question_id
        return f"“{text[:EXCERPT]}{'…' if len(text) > EXCERPT else ''}”"

    def value(self, key: str, value: Any) -> str | None:
        """A value that names something, by name; None when it names nothing known."""
        if key in ("host_id", "host_ids"):
            ids = value if isinstance(value, list) else [value]
            return "、".join(self.staff_ids.get(str(i), str(i)) for i in ids if i) or "—"
        if key == "merged_into" and value:
            return self.question(str(value))
        if key == "item_id" and value:
            return self.items.get(str(value), str(value))
        if key == "flags" and isinstance(value, dict):  # a note: the newest one
            notes = value.get("notes") or [{}]
            return str(notes[-1].get("text", "—"))
        return None


def action_label(action: str) -> str:
    return ACTIONS.get(action, action)


def target_label(target: str, names: Names | None = None) -> str:
    kind, _, rest = target.partition(":")
    if names is not None:
        if kind == "question":
            rest = names.question(rest)
        elif kind == "session":
            rest = f"“{names.sessions[rest]}”" if rest in names.sessions else rest
        elif kind == "staff":
            rest = names.person(rest)
    return f"{TARGETS.get(kind, kind)} {rest}".strip()


def describe(values: dict[str, Any] | None, format_time: Any,
             names: Names | None = None) -> list[tuple[str, str]]:
    """``[(field label, value text)]`` for one side of an audit entry."""
    if not values:
        return []
    out = []
    for key, value in values.items():
        named = names.value(key, value) if names is not None else None
        if named is not None:
            text = named
        elif key.endswith("_at") or key in ("until", "scheduled_start", "scheduled_end"):
            text = format_time(value, "%Y-%m-%d %H:%M:%S") if value else "—"
        elif isinstance(value, bool):
            text = "是" if value else "否"
        elif key == "role":
            text = ROLE_LABELS.get(str(value), str(value))
        elif key == "state":
            text = STATE_LABELS.get(str(value)) or CLIP_STATE_LABELS.get(str(value), str(value))
        elif key == "status":
            text = STATUS.get(str(value), str(value))
        elif key == "action":
            text = TERM_ACTIONS.get(str(value), str(value))
        elif isinstance(value, list):
            text = "、".join(map(str, value)) or "—"
        else:
            text = str(value) if value != "" else "—"
        out.append((FIELDS.get(key, key), text))
    return out
