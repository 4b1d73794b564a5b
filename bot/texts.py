"""Everything the bot says, in English msgids translated by the gettext catalogues (zh_CN is the default locale).

User-supplied strings (names, addresses, notes) are HTML-escaped here, the one place that renders them.
"""

from __future__ import annotations

from datetime import date
from html import escape

from aiogram.utils.i18n import gettext as _

from carevisit.care.month_close import in_grace
from carevisit.care.visit_rate import VisitRate
from carevisit.storage.enums import ProblemCategory, VisitMode, VisitOutcome
from carevisit.storage.models import Elder, EmergencyContact, Visit

EMERGENCY_NUMBERS = ("120", "110", "119")


def mode_label(mode: VisitMode | str) -> str:
    return {
        VisitMode.HOME: _("Home visit"),
        VisitMode.PHONE: _("Phone call"),
        VisitMode.VIDEO: _("Video call"),
        VisitMode.REMOTE: _("Remote monitoring"),
    }[VisitMode(mode)]


def outcome_label(outcome: VisitOutcome | str) -> str:
    return {
        VisitOutcome.WELL: _("Doing well"),
        VisitOutcome.PROBLEM: _("Has a problem"),
        VisitOutcome.URGENT: _("Urgent!"),
    }[VisitOutcome(outcome)]


def all_fine() -> str:
    """The "doing well" answer of the confirm flow: it answers every checklist question OK at once."""
    return _("All fine (skip the checklist)")


def category_label(category: ProblemCategory | str) -> str:
    return {
        ProblemCategory.HEALTH: _("Health"),
        ProblemCategory.HOME_SAFETY: _("Safety hazard at home"),
        ProblemCategory.LIVING_DIFFICULTY: _("Difficulty in daily living"),
        ProblemCategory.CARER_OBLIGATION: _("Carer not meeting obligations"),
        ProblemCategory.LONELINESS: _("Loneliness or low mood"),
        ProblemCategory.INFECTIOUS: _("Suspected infectious symptoms"),
        ProblemCategory.REFERRAL: _("Needs a service referral"),
        ProblemCategory.OTHER: _("Other"),
    }[ProblemCategory(category)]


def checklist_question(key: str) -> str:
    known = {
        "health": _("Health and mobility: as usual?"),
        "mood": _("Mood: as usual?"),
        "family": _("Does the family visit or call?"),
        "home_safety": _("Home safety (water, electricity, gas, heating): all right?"),
        "care_needs": _("Are care needs met?"),
    }
    return known.get(key, escape(key))


def checklist_answers(key: str) -> tuple[str, str]:
    """The two answers that fit each question, (all right, a concern): "rarely in touch", not "concern"."""
    known = {
        "health": (_("As usual"), _("Worse than usual")),
        "mood": (_("As usual"), _("Low")),
        "family": (_("Often in touch"), _("Rarely in touch")),
        "home_safety": (_("No hazard"), _("Hazard found")),
        "care_needs": (_("Met"), _("Not met")),
    }
    return known.get(key, (button_ok(), button_concern()))


def window(visit: Visit) -> str:
    return f"{visit.window_start:%m-%d} ~ {visit.window_end:%m-%d}"


def visit_line(n: int, visit: Visit, elder: Elder, today: date) -> str:
    if in_grace(visit.month, today=today):  # open until the day is over, then missed (care.month_close)
        late = " ⏳ <b>" + _("last month's visit: if you made it then, confirm it today") + "</b>"
    elif visit.window_end < today:
        late = f" ⚠️ <b>{_('overdue')}</b>"
    else:
        late = ""
    return (
        f"{n}. <b>{escape(elder.name)}</b> — {escape(elder.address)}\n"
        f"   {mode_label(visit.mode)} · {window(visit)}{late}"
    )


def visits_list(rows: list[tuple[Visit, Elder]], today: date, upcoming: list[tuple[Visit, Elder]] | None = None) -> str:
    """The visits to confirm now, numbered; then those whose window has not opened yet, without buttons."""
    if not rows and not upcoming:
        return _("You have no visits due. Thank you!")
    lines = [f"<b>{_('Your visits')}</b>"] if rows else [_("Nothing to confirm today. Thank you!")]
    lines += [visit_line(n, visit, elder, today) for n, (visit, elder) in enumerate(rows, 1)]
    if upcoming:  # listed so the volunteer knows what is next, not offered: their window has not opened
        lines.append(f"\n<b>{_('Coming up (not open yet)')}</b>")
        lines += [upcoming_line(visit, elder) for visit, elder in upcoming]
    return "\n".join(lines)


def upcoming_line(visit: Visit, elder: Elder) -> str:
    opens = _("opens {day}").format(day=f"{visit.window_start:%m-%d}")
    return f"• {escape(elder.name)} — {mode_label(visit.mode)} · {opens}"


def elder_title(elder: Elder) -> str:
    return f"<b>{escape(elder.name)}</b> — {escape(elder.address)}"


def ask_mode(elder: Elder) -> str:
    return f"{elder_title(elder)}\n{_('How was the visit made?')}"


def ask_day(elder: Elder) -> str:
    """Asked on the 1st only: a visit made yesterday belongs to last month, which still takes confirmations."""
    return f"{elder_title(elder)}\n{_('When was the visit made?')}"


def today() -> str:
    return _("Today")


def yesterday_last_month() -> str:
    return _("Yesterday (last month)")


def ask_outcome(elder: Elder) -> str:
    return f"{elder_title(elder)}\n{_('How is the elder?')}"


def ask_checklist(elder: Elder, key: str, n: int, total: int) -> str:
    return f"{elder_title(elder)}\n({n}/{total}) {checklist_question(key)}"


def confirmed(elder: Elder, problems: int) -> str:
    text = _("Visit to {name} confirmed. Thank you!").format(name=f"<b>{escape(elder.name)}</b>")
    if problems:
        text += "\n" + _("{n} problem(s) sent to the coordinators' referral queue.").format(n=problems)
    return text + "\n" + _("You can add a note or your location, or just send a photo now:")


def already_confirmed(elder: Elder) -> str:
    return _("This visit to {name} was already confirmed.").format(name=f"<b>{escape(elder.name)}</b>")


def visit_closed() -> str:
    return _("This visit can no longer be confirmed (cancelled or closed at month end).")


def not_yours() -> str:
    return _("This is not one of your visits.")


def stale_button() -> str:
    return _("This button is out of date. Send /visits to see your visits.")


def ask_note() -> str:
    return _("Send the note as a text message.")


def ask_photo() -> str:
    return _("Send the photo.")


def ask_location() -> str:
    return _("Tap the button below to share your location.")


def details_saved() -> str:
    return _("Saved. Anything else?")


def choose_elder() -> str:
    return _("Which elder? Tap a name, or send part of a name to search.")


def no_elders_found() -> str:
    return _("No elder of your communities matches. Try another part of the name.")


def ask_category(elder: Elder) -> str:
    return f"{elder_title(elder)}\n{_('What kind of problem?')}"


def ask_description() -> str:
    return _("Describe the problem: a text, a voice message or a photo.")


def ask_urgency() -> str:
    return _("Is it urgent (someone must act now)?")


def problem_filed(category: ProblemCategory) -> str:
    return _("Problem recorded ({category}) and sent to the coordinators' referral queue.").format(
        category=category_label(category)
    )


def epidemic(instructions: str) -> str:
    return f"🦠 <b>{_('Suspected infectious symptoms')}</b>\n{escape(instructions)}"


def emergency_numbers() -> str:
    return "\n".join(
        [
            f"🆘 <b>{_('Emergency: call now if needed')}</b>",
            f"☎️ 120 — {_('ambulance')}",
            f"☎️ 110 — {_('police')}",
            f"☎️ 119 — {_('fire')}",
        ]
    )


def emergency_contacts(elder: Elder, contacts: list[EmergencyContact]) -> str:
    lines = [_("Emergency contacts of {name}:").format(name=f"<b>{escape(elder.name)}</b>")]
    if not contacts:
        lines.append(_("(none on record: tell the coordinator)"))
    for contact in contacts:
        relation = f" ({escape(contact.relation)})" if contact.relation else ""
        lines.append(f"{contact.position}. {escape(contact.name)}{relation} {escape(contact.phone)}")
    lines.append(_("We are paging the family and the coordinators now and will tell you who responds."))
    lines.append(_("Afterwards, please record what happened with the button below."))
    return "\n".join(lines)


def incident_exists() -> str:
    return _("An emergency for this elder is already open; its contacts are below.")


def ask_what_happened() -> str:
    return _("Handling record (1/3): what happened?")


def ask_actions_taken() -> str:
    return _("Handling record (2/3): what was done?")


def ask_outcome_text() -> str:
    return _("Handling record (3/3): what is the outcome now?")


def record_saved() -> str:
    return _("The handling record is saved. You can add to it later with the same button.")


def cancelled() -> str:
    return _("Cancelled.")


def need_text() -> str:
    return _("That is not what I asked for. Please try again, or send /cancel.")


def unlinked() -> str:
    return _(
        "Hello! This bot is for volunteers and staff of the elderly care-visit programme. "
        "Your account is not linked yet: open the invitation link from your coordinator, "
        "or share your phone number with the button below if it is on the roster."
    )


def unlinked_alert() -> str:
    """For a tap on a button: an alert holds at most 200 characters, too few for `unlinked()`."""
    return _("Your account is not linked yet. Send /start to see how to link it.")


def link_ok(name: str) -> str:
    return _("Welcome, {name}! Your account is linked. Send /visits to see your visits.").format(name=escape(name))


def link_ok_coordinator(name: str) -> str:
    return _("Welcome, {name}! You are linked as a coordinator: /stats, /overdue, /unassigned.").format(
        name=escape(name)
    )


def link_refused(reason: str) -> str:
    return {
        "invalid": _("This invitation is not valid or was already used. Ask your coordinator for a new one."),
        "expired": _("This invitation has expired. Ask your coordinator for a new one."),
        "not_your_contact": _("Please share your own contact with the button, not someone else's."),
        "no_match": _("No volunteer on the roster has this phone number. Ask your coordinator for an invitation."),
        "taken": _("This roster record is already linked to another account. Ask your coordinator."),
    }[reason]


def volunteer_help() -> str:
    return _(
        "/visits - your visits due\n/problem - report a problem\n/sos - emergency\n"
        "/unplanned - log a visit outside the plan\n/language - language"
    )


def coordinator_help() -> str:
    return _("/stats - this month's visit rate\n/overdue - overdue visits\n/unassigned - visits nobody is assigned to")


def menu_visits() -> str:
    return _("My visits")


def menu_sos() -> str:
    return _("Emergency")


def share_contact_button() -> str:
    return _("Share my phone number")


def stats(area_name: str, month: str, rate: VisitRate) -> str:
    return _("Visit rate {month}, {area}: {percent} ({visited} of {eligible} elders visited; goal 100%).").format(
        month=month, area=escape(area_name), percent=rate.percent, visited=rate.visited, eligible=rate.eligible
    )


def visit_table(title: str, rows: list[tuple[Visit, Elder]], limit: int = 30) -> str:
    if not rows:
        return _("None.")
    lines = [f"<b>{title}</b> ({len(rows)})"]
    for visit, elder in rows[:limit]:
        lines.append(f"• {escape(elder.name)} — {window(visit)}")
    if len(rows) > limit:
        lines.append("… " + _("and {n} more on the dashboard.").format(n=len(rows) - limit))
    return "\n".join(lines)


def overdue_title() -> str:
    return _("Overdue visits")


def unassigned_title() -> str:
    return _("Unassigned visits this month")


def acknowledged(incident_id: int) -> str:
    return _("Emergency #{id} acknowledged. Thank you.").format(id=incident_id)


def already_acknowledged(incident_id: int) -> str:
    return _("Emergency #{id} was already acknowledged.").format(id=incident_id)


def not_allowed() -> str:
    return _("You cannot do that.")


def viewer_cannot_acknowledge() -> str:
    return _("A read-only account cannot acknowledge emergencies; a coordinator of the area will.")


def apology() -> str:
    """Whatever went wrong unforeseen: neutral, and the way out in an emergency."""
    return _(
        "Sorry, something went wrong on our side. Please try again in a moment. In an emergency, call 120 directly."
    )


def choose_language() -> str:
    return _("Choose a language:")


def language_set() -> str:
    return _("Language set.")


def unknown_input() -> str:
    return _("Sorry, I did not understand. Here is what I can do:")


def buttons_confirm() -> str:
    return _("Confirm")


def button_problem() -> str:
    return _("Problem")


def button_sos() -> str:
    return _("SOS")


def button_ok() -> str:
    return _("OK")


def button_concern() -> str:
    return _("Concern")


def button_note() -> str:
    return _("Add a note")


def button_photo() -> str:
    return _("Add a photo")


def button_location() -> str:
    return _("Add location")


def button_done() -> str:
    return _("Done")


def button_urgent_yes() -> str:
    return _("Yes, urgent")


def button_urgent_no() -> str:
    return _("No")


def button_record() -> str:
    return _("Record the handling")


def button_cancel() -> str:
    return _("Cancel")


def button_send_location() -> str:
    return _("Send my location")
