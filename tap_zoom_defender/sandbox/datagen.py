"""Deterministic fake account data: users once, then sign-in events and admin logs per day.

Each UTC day is generated on its own from ``Random("<seed>:<kind>:<date>")``, so any day can be
(re)built in isolation: a million events never have to sit in memory together, and the same
seed always yields the same records for the same dates. Records are kept as pre-encoded JSON
(the strings come from fixed vocabularies, so no escaping is needed except in free text), which
is what makes full 300-record pages cheap to serve.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone

from tap_zoom_defender import zoom_limits

from .config import SandboxConfig

# One record as the store keeps it: (time, visible_at, category filter key or "", JSON bytes).
Record = tuple[int, float, str, bytes]

FIRST_NAMES = (
    "Ada Alan Amara Ana Anders Aiko Bea Ben Carlos Chen Chloe Dana Dev Diego Elena Emeka Eva "
    "Farah Felix Grace Hana Hugo Ines Ivan Jae James Jana Jonas Kai Kofi Lars Lea Leo Lin Luca "
    "Maya Mei Mila Nadia Nia Noah Omar Oscar Priya Quinn Rafael Rosa Sam Sara Sofia Tariq Tom "
    "Uma Vera Wei Yara Yusuf Zoe"
).split()
LAST_NAMES = (
    "Adams Ahmed Alvarez Becker Brown Castillo Chen Cohen Costa Dubois Eriksson Fischer Garcia "
    "Gupta Haddad Hansen Ito Jensen Johnson Kim Kowalski Kumar Larsen Lee Lopez Martin Meyer "
    "Moreau Murphy Nakamura Nguyen Novak Okafor Olsen Patel Perez Rossi Sato Schmidt Silva "
    "Singh Smith Suzuki Tanaka Taylor Torres Wagner Walker Wang Weber Williams Wilson Yamamoto "
    "Zhang"
).split()
DEPARTMENTS = (
    "Engineering",
    "Sales",
    "Marketing",
    "Finance",
    "Human Resources",
    "Legal",
    "Support",
    "Operations",
    "IT",
    "Product",
)
# (IANA zone, UTC offset in hours); fixed offsets are good enough for daily patterns.
TIMEZONES = (
    ("America/New_York", -5.0),
    ("America/Chicago", -6.0),
    ("America/Los_Angeles", -8.0),
    ("Europe/London", 0.0),
    ("Europe/Berlin", 1.0),
    ("Asia/Kolkata", 5.5),
    ("Asia/Tokyo", 9.0),
    ("Australia/Sydney", 10.0),
)
DOMAIN = "example-corp.com"
# Company offices (NATed egress /24s) and residential / mobile ranges by region.
OFFICE_NETS = ("12.161.212.", "64.124.38.", "81.144.201.", "203.104.15.")
HOME_V4_PREFIXES = ("73.", "98.", "24.", "86.", "2.", "126.", "49.")
HOME_V6_PREFIXES = ("2601:", "2a02:", "2409:")
MOBILE_V4_PREFIXES = ("172.56.", "174.205.", "100.43.")
# Sign-ins from these ranges are the "unusual country" signal a SOC looks for.
UNUSUAL_NETS = (
    "5.188.",  # RU
    "41.58.",  # NG
    "175.45.",  # KP
    "5.160.",  # IR
    "36.110.",  # CN
    "185.220.",  # Tor exits (DE/NL)
)
# Zoom's `client_type` as real responses spell it: public samples show "win" and "Browser"
# (and `version` "-" when Zoom does not know it); user records end client versions in "(win)",
# "(mac)", "(android)"... Not "Windows"/"Mac"/"iOS", which Zoom's report does not use.
DESKTOP_CLIENTS = ("win", "mac", "linux")
MOBILE_CLIENTS = ("iphone", "android")
CLIENT_VERSIONS = {
    "win": ("5.17.11 (34827)", "6.0.12 (43232)", "6.2.5 (48930)", "6.3.1 (52884)"),
    "mac": ("5.17.11 (28082)", "6.0.12 (37021)", "6.2.5 (41980)", "6.3.1 (45101)"),
    "linux": ("5.17.11.3835", "6.1.6.1013", "6.2.5.2440"),
    "iphone": ("5.17.10 (14567)", "6.2.5 (19876)", "6.3.0 (21130)"),
    "android": ("5.17.10.19802", "6.2.5.24105", "6.3.0.26011"),
    "Browser": ("-", "6.3.1"),
}
# category filter key -> (category_type as Zoom prints it, [(action, detail template)]).
# Templates use {email}, {dept}, {dept2}, {n}, {m}.
OPERATION_TEMPLATES: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "user": (
        "User",
        (
            ("Add", "Add User {email}"),
            ("Update", "Update User {email} - Department: from '{dept}' to '{dept2}'"),
            ("Update", "Update User {email} - User Type: from 'Basic' to 'Licensed'"),
            ("Delete", "Delete User {email}"),
            ("Deactivate", "Deactivate User {email}"),
            ("Activate", "Activate User {email}"),
        ),
    ),
    "user_settings": (
        "User Settings",
        (
            ("Update", "Update User Settings {email} - Cloud recording: from On to Off"),
            ("Update", "Update User Settings {email} - Screen sharing: from Host Only to All"),
        ),
    ),
    "account": (
        "Account",
        (
            ("Update", "Account Settings - Meeting > Waiting room: from Off to On"),
            ("Update", "Account Settings - Security > Require passcode: from On to Off"),
            ("Update", "Account Settings - Sign-in > Two-factor authentication: from On to Off"),
        ),
    ),
    "billing": ("Billing", (("Update", "Billing - Licenses: from {n} to {m}"),)),
    "im": (
        "IM",
        (
            ("Add", "IM Group '{dept}' - Add member {email}"),
            ("Delete", "IM Group '{dept}' - Remove member {email}"),
        ),
    ),
    "recording": (
        "Recording",
        (
            ("Delete", "Delete cloud recording of meeting {n}{m}7 hosted by {email}"),
            ("Recover", "Recover cloud recording of meeting {n}{m}3 hosted by {email}"),
        ),
    ),
    "phone_contacts": (
        "Phone Contacts",
        (("Add", "Add external contact for {dept}"), ("Delete", "Delete external contact {n}")),
    ),
    "webinar": ("Webinar", (("Update", "Update webinar settings of {email}"),)),
    "sub_account": ("Sub Account", (("Add", "Add sub account '{dept} EMEA'"),)),
    "role": (
        "Role",
        (
            ("Update", "Role 'Admin' - Assign {email}"),
            ("Update", "Role 'Admin' - Privileges: add 'Reports: View'"),
        ),
    ),
    "zoom_rooms": (
        "Zoom Rooms",
        (("Add", "Add Zoom Room '{dept} Huddle {n}'"), ("Update", "Update Zoom Room settings")),
    ),
}
OPERATION_WEIGHTS = {
    "user": 30,
    "user_settings": 15,
    "account": 8,
    "billing": 2,
    "im": 8,
    "recording": 10,
    "phone_contacts": 3,
    "webinar": 4,
    "sub_account": 1,
    "role": 4,
    "zoom_rooms": 3,
}
_WEEKEND_FACTOR = 0.3
_MEAN_WEEK_FACTOR = (5 + 2 * _WEEKEND_FACTOR) / 7
_SIGN_OUT_PROBABILITY = 0.85
_USER_STATUSES = (("active", 0.85), ("inactive", 0.10), ("pending", 0.05))


def iso(ts: float) -> str:
    """Format epoch seconds the way Zoom does: ``2019-09-15T19:13:41Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def day_start(day: date) -> int:
    """Epoch seconds of 00:00 UTC on ``day``."""
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp())


@dataclass(frozen=True)
class Profile:
    """Hidden per-user habits that drive the generated events (never served)."""

    email: str
    utc_offset: float
    desktop: str
    mobile: str
    home_ip: str
    office_net: str
    traveler: bool
    versions: dict[str, str]


@dataclass
class Account:
    """The generated users plus the profiles of those who produce activity."""

    users: list[dict]
    user_json: list[bytes]
    active: list[Profile]
    admins: list[str]
    emails: list[str]
    extras: list[dict]  # per user: fields served only with include_fields


def _zoom_id(rng: random.Random, n: int = 22) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(rng.choice(alphabet) for _ in range(n))


def _home_ip(rng: random.Random) -> str:
    if rng.random() < 0.2:
        groups = ":".join(f"{rng.randrange(1, 0xFFFF):x}" for _ in range(3))
        return f"{rng.choice(HOME_V6_PREFIXES)}{groups}::{rng.randrange(1, 0xFFFF):x}"
    return f"{rng.choice(HOME_V4_PREFIXES)}{rng.randrange(1, 255)}.{rng.randrange(1, 255)}" + (
        f".{rng.randrange(1, 255)}"
    )


def generate_account(cfg: SandboxConfig, anchor: float) -> Account:
    """Build the account's users (mixed statuses, admins first) from the seed."""
    rng = random.Random(f"{cfg.seed}:users")
    users: list[dict] = []
    active: list[Profile] = []
    admins: list[str] = []
    seen: set[str] = set()
    base = datetime(2020, 1, 1, tzinfo=timezone.utc).timestamp()
    n_admins = max(1, cfg.users // 25)
    for i in range(cfg.users):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first}.{last}@{DOMAIN}".lower()
        n = 2
        while email in seen:
            email = f"{first}.{last}{n}@{DOMAIN}".lower()
            n += 1
        seen.add(email)
        roll, status = rng.random(), "active"
        acc = 0.0
        for name, weight in _USER_STATUSES:
            acc += weight
            if roll < acc:
                status = name
                break
        if i <= n_admins:
            status = "active"
        zone, offset = rng.choice(TIMEZONES)
        created = base + rng.uniform(0, 4.5 * 365 * 86400)
        desktop = rng.choices(DESKTOP_CLIENTS, weights=(60, 35, 5))[0]
        mobile = rng.choice(MOBILE_CLIENTS)
        versions = {c: rng.choice(v) for c, v in CLIENT_VERSIONS.items()}
        user: dict = {
            "id": _zoom_id(rng),
            "first_name": first,
            "last_name": last,
            "display_name": f"{first} {last}",
            "email": email,
            "type": 1 if status == "pending" or rng.random() < 0.2 else 2,
            "pmi": rng.randrange(2_000_000_000, 9_999_999_999),
            "timezone": zone,
            "verified": 0 if status == "pending" else 1,
            "dept": rng.choice(DEPARTMENTS),
            "created_at": iso(created),
            "user_created_at": iso(created),
            "role_id": "0" if i == 0 else ("1" if i <= n_admins else "2"),
            "status": status,
            "group_ids": [],
            "im_group_ids": [],
            "language": "en-US",
            "employee_unique_id": f"E{10000 + i}",
        }
        if status != "pending":
            last_login = anchor - rng.uniform(0, 3 * 86400)
            if status == "inactive":
                last_login = created + rng.uniform(0, max(1.0, anchor - created))
            user["last_login_time"] = iso(min(last_login, anchor))
            user["last_client_version"] = versions[desktop]
        users.append(user)
        if status == "active":
            active.append(
                Profile(
                    email=email,
                    utc_offset=offset,
                    desktop=desktop,
                    mobile=mobile,
                    home_ip=_home_ip(rng),
                    office_net=rng.choice(OFFICE_NETS),
                    traveler=rng.random() < 0.03,
                    versions=versions,
                )
            )
            if user["role_id"] in ("0", "1"):
                admins.append(email)
    # Fields Zoom only returns on request (include_fields) or for some plans; a separate random
    # stream so adding them never changed the users above.
    extra_rng = random.Random(f"{cfg.seed}:user-extras")
    extras: list[dict] = []
    for user in users:
        if extra_rng.random() < 0.15:
            user["plan_united_type"] = extra_rng.choice(("1", "2", "4", "8"))
        extras.append(
            {
                "host_key": f"{extra_rng.randrange(0, 1_000_000):06d}",
                "custom_attributes": [
                    {
                        "key": "cbf_cost_center",
                        "name": "Cost center",
                        "value": f"CC-{extra_rng.randrange(100, 999)}",
                    }
                ],
            }
        )
    user_json = [json.dumps(u, separators=(",", ":")).encode() for u in users]
    return Account(users, user_json, active, admins, [u["email"] for u in users], extras)


def _count(rng: random.Random, mean: float) -> int:
    """Draw an integer cheaply with the given mean (floor plus a Bernoulli remainder)."""
    k = int(mean)
    return k + (rng.random() < mean - k)


def _late_delays(cfg: SandboxConfig, key: str, n: int) -> list[float]:
    """Visibility delays for ``n`` records: mostly 0, ``late_fraction`` of them late.

    A separate random stream keeps the records themselves identical whatever the late
    settings are, so a test can shrink the delays without changing the data.
    """
    rng = random.Random(key)
    lo, hi, frac = cfg.late_min_seconds, cfg.late_max_seconds, cfg.late_fraction
    return [rng.uniform(lo, hi) if rng.random() < frac else 0.0 for _ in range(n)]


def _finish(raw: list[tuple[int, str, bytes]], delays: list[float]) -> list[Record]:
    """Attach delays, drop exact duplicates and order newest first (Zoom's order)."""
    seen: set[bytes] = set()
    out: list[Record] = []
    for (t, cat, body), delay in zip(raw, delays, strict=True):
        if body in seen:
            continue
        seen.add(body)
        out.append((t, t + delay, cat, body))
    out.sort(key=lambda r: (-r[0], r[3]))
    return out


def generate_activities(cfg: SandboxConfig, account: Account, day: date) -> list[Record]:
    """Sign-in/sign-out events of every active user on one UTC day."""
    rng = random.Random(f"{cfg.seed}:activities:{day.isoformat()}")
    start = day_start(day)
    weekend = day.weekday() >= 5
    factor = _WEEKEND_FACTOR if weekend else 1.0
    mean_sessions = (
        cfg.events_per_user_day * factor / (_MEAN_WEEK_FACTOR * (1 + _SIGN_OUT_PROBABILITY))
    )
    raw: list[tuple[int, str, bytes]] = []
    rand, randrange, choice = rng.random, rng.randrange, rng.choice
    for p in account.active:
        for _ in range(_count(rng, mean_sessions)):
            local = rng.uniform(7 * 3600, 20 * 3600) if rand() < 0.9 else rng.uniform(0, 86400)
            t = start + int((local - p.utc_offset * 3600) % 86400)
            roll = rand()
            if p.traveler and roll < 0.25:
                ip = f"{choice(UNUSUAL_NETS)}{randrange(1, 255)}.{randrange(1, 255)}"
                client = p.desktop
            elif not weekend and roll < 0.6:
                ip, client = f"{p.office_net}{randrange(2, 250)}", p.desktop
            elif roll < 0.9:
                ip, client = p.home_ip, p.desktop
            else:
                pre = choice(MOBILE_V4_PREFIXES)
                ip, client = f"{pre}{randrange(1, 255)}.{randrange(1, 255)}", p.mobile
            r2 = rand()
            if client == p.desktop and r2 < 0.15:
                client = "Browser"
            version = p.versions[client]
            head = f'{{"email":"{p.email}","time":"'
            tail = f'","ip_address":"{ip}","client_type":"{client}","version":"{version}"}}'
            raw.append((t, "", f'{head}{iso(t)}","type":"Sign in{tail}'.encode()))
            if rand() < _SIGN_OUT_PROBABILITY:
                t_out = t + randrange(300, 8 * 3600)
                if t_out < start + 86400:
                    raw.append((t_out, "", f'{head}{iso(t_out)}","type":"Sign out{tail}'.encode()))
    delays = _late_delays(cfg, f"{cfg.seed}:late:activities:{day.isoformat()}", len(raw))
    return _finish(raw, delays)


def generate_operation_logs(cfg: SandboxConfig, account: Account, day: date) -> list[Record]:
    """Admin audit-log entries of one UTC day, across every category."""
    rng = random.Random(f"{cfg.seed}:operation_logs:{day.isoformat()}")
    start = day_start(day)
    factor = 0.2 if day.weekday() >= 5 else 1.0
    categories = list(OPERATION_WEIGHTS)
    weights = list(OPERATION_WEIGHTS.values())
    operators = account.admins or account.emails[:1]
    raw: list[tuple[int, str, bytes]] = []
    for _ in range(_count(rng, cfg.operation_logs_per_day * factor / 0.77)):
        t = start + rng.randrange(0, 86400)
        key = rng.choices(categories, weights=weights)[0]
        label, templates = OPERATION_TEMPLATES[key]
        action, template = rng.choice(templates)
        detail = template.format(
            email=rng.choice(account.emails),
            dept=rng.choice(DEPARTMENTS),
            dept2=rng.choice(DEPARTMENTS),
            n=rng.randrange(100, 999),
            m=rng.randrange(1000, 9999),
        )
        body = (
            f'{{"time":"{iso(t)}","operator":"{rng.choice(operators)}",'
            f'"category_type":"{label}","action":"{action}",'
            f'"operation_detail":{json.dumps(detail)}}}'
        )
        raw.append((t, key, body.encode()))
    delays = _late_delays(cfg, f"{cfg.seed}:late:operation_logs:{day.isoformat()}", len(raw))
    return _finish(raw, delays)


GENERATORS = {"activities": generate_activities, "operation_logs": generate_operation_logs}
assert set(OPERATION_TEMPLATES) == set(zoom_limits.OPERATION_LOG_CATEGORIES) - {"all"}
