"""Microsoft Sentinel's built-in ASIM parsers, as KQL the evaluator runs.

Sentinel deploys built-in parsers in every workspace (``_Im_<Schema>`` filtering unifiers,
``_ASim_<Schema>`` parameter-less ones, and per-source parsers such as
``_Im_Authentication_Native``). "Manage ASIM parsers"
(https://learn.microsoft.com/azure/sentinel/normalization-manage-parsers): "Built-in, unifying
parsers automatically pick up these custom parsers, if they exist" -- the workspace functions
``Im_AuthenticationCustom``, ``ASim_AuthenticationCustom``, ``Im_AuditEventCustom`` and
``ASim_AuditEventCustom``.

Emulated here, from the Azure/Azure-Sentinel repository:

- the four Native parsers: their ``ParserQuery`` text verbatim and their ``ParserParams`` as
  the signature (each constant below names the file and commit);
- the four unifiers, over only two sources each: the Native parser and the ``*Custom``
  function, in a ``union isfuzzy=true`` (so a missing custom function is skipped). The text of
  the built-in unifiers is not published; their signatures are those of the workspace-deployed
  unifiers ``imAuthentication.yaml`` (commit 02c3862a: the filtering parameters and ``pack``),
  ``imAuditEvent.yaml`` (commit 0104b6a1, same), and ``disabled``/``pack`` for the
  parameter-less ones (``ASimAuthentication.yaml`` commit 015eed94 declares ``disabled``; the
  custom unifiers' templates declare ``pack`` too). Vendor parsers other than Native, the
  ``vim*Empty`` schema legs and the ASimDisabledParsers watchlist are not emulated.
"""

from __future__ import annotations

import functools

from .evaluator import FunctionSpec
from .lexer import Source
from .parser import parse_parameters, parse_query

_AUTH_FILTERS = (
    "starttime:datetime=datetime(null), endtime:datetime=datetime(null), "
    "username_has_any:dynamic=dynamic([]), targetappname_has_any:dynamic=dynamic([]), "
    "srcipaddr_has_any_prefix:dynamic=dynamic([]), srchostname_has_any:dynamic=dynamic([]), "
    "eventtype_in:dynamic=dynamic([]), eventresultdetails_in:dynamic=dynamic([]), "
    "eventresult:string='*'"
)
_AUTH_ARGS = (
    "starttime=starttime, endtime=endtime, username_has_any=username_has_any, "
    "targetappname_has_any=targetappname_has_any, "
    "srcipaddr_has_any_prefix=srcipaddr_has_any_prefix, "
    "srchostname_has_any=srchostname_has_any, eventtype_in=eventtype_in, "
    "eventresultdetails_in=eventresultdetails_in, eventresult=eventresult"
)
_AUDIT_FILTERS = (
    "starttime:datetime=datetime(null), endtime:datetime=datetime(null), "
    "srcipaddr_has_any_prefix:dynamic=dynamic([]), actorusername_has_any:dynamic=dynamic([]), "
    "operation_has_any:dynamic=dynamic([]), eventtype_in:dynamic=dynamic([]), "
    "eventresult:string='*', object_has_any:dynamic=dynamic([]), "
    "newvalue_has_any:dynamic=dynamic([])"
)
_AUDIT_ARGS = (
    "starttime=starttime, endtime=endtime, srcipaddr_has_any_prefix=srcipaddr_has_any_prefix, "
    "actorusername_has_any=actorusername_has_any, operation_has_any=operation_has_any, "
    "eventtype_in=eventtype_in, eventresult=eventresult, object_has_any=object_has_any, "
    "newvalue_has_any=newvalue_has_any"
)

# Parsers/ASimAuthentication/Parsers/vimAuthenticationNative.yaml, commit 0b244849 (0.1.0).
_IM_AUTHENTICATION_NATIVE = """
let parser=
(
  starttime: datetime=datetime(null),
  endtime: datetime=datetime(null),
  username_has_any: dynamic = dynamic([]),
  targetappname_has_any: dynamic = dynamic([]),
  srcipaddr_has_any_prefix: dynamic = dynamic([]),
  srchostname_has_any: dynamic = dynamic([]),
  eventtype_in: dynamic = dynamic([]),
  eventresultdetails_in: dynamic = dynamic([]),
  eventresult: string = '*',
  disabled: bool=false
)
{
  ASimAuthenticationEventLogs  | where not(disabled)
  //  -- Pre-parsing filtering:
  | where
      (isnull(starttime) or TimeGenerated >= starttime)
      and (isnull(endtime) or TimeGenerated <= endtime)
      and ((array_length(username_has_any) == 0) or TargetUsername has_any (username_has_any))
      and ((array_length(targetappname_has_any) == 0) or TargetAppName has_any (targetappname_has_any))
      and ((array_length(srcipaddr_has_any_prefix) == 0) or (has_any_ipv4_prefix(SrcIpAddr, srcipaddr_has_any_prefix)))
      and ((array_length(srchostname_has_any) == 0) or SrcHostname has_any (srchostname_has_any))
      and ((array_length(eventtype_in) == 0) or EventType in~ (eventtype_in))
      and (array_length(eventresultdetails_in) == 0 or EventResultDetails has_any (eventresultdetails_in))
      and (eventresult == "*" or (EventResult == eventresult))
  | extend
        User =  TargetUsername,
        Src = coalesce (SrcDvcId, SrcHostname, SrcIpAddr),
        IpAddr=SrcIpAddr,
        LogonTarget= coalesce (TargetAppName, TargetUrl, TargetHostname),
        Dvc=EventVendor,
        Application=TargetAppName,
        Dst = coalesce (TargetDvcId,TargetHostname, TargetIpAddr, TargetAppId,TargetAppName),
        Rule = coalesce(RuleName, tostring(RuleNumber)),
        EventStartTime = TimeGenerated,
        EventEndTime = TimeGenerated,
        EventSchema = "Authentication"
  | project-rename
        EventUid = _ItemId
  | project-away TenantId, SourceSystem, _ResourceId, _SubscriptionId
};
parser
  (
  starttime=starttime,
  endtime=endtime,
  username_has_any=username_has_any,
  targetappname_has_any=targetappname_has_any,
  srcipaddr_has_any_prefix=srcipaddr_has_any_prefix,
  srchostname_has_any=srchostname_has_any,
  eventtype_in=eventtype_in,
  eventresultdetails_in=eventresultdetails_in,
  eventresult=eventresult,
  disabled=disabled
)
"""  # noqa: E501

# Parsers/ASimAuthentication/Parsers/ASimAuthenticationNative.yaml, commit c93fd152 (0.1.0).
_ASIM_AUTHENTICATION_NATIVE = """
let parser=(disabled:bool=false)
{
  ASimAuthenticationEventLogs  | where not(disabled)
    | extend
        User =  TargetUsername,
        Src = coalesce (SrcDvcId, SrcHostname, SrcIpAddr),
        IpAddr=SrcIpAddr,
        LogonTarget= coalesce (TargetAppName, TargetUrl, TargetHostname),
        Dvc=EventVendor,
        Application=TargetAppName,
        Dst = coalesce (TargetDvcId,TargetHostname, TargetIpAddr, TargetAppId,TargetAppName),
        Rule = coalesce(RuleName, tostring(RuleNumber)),
        EventStartTime = TimeGenerated,
        EventEndTime = TimeGenerated,
        EventSchema = "Authentication"
    | project-rename
        EventUid = _ItemId
  | project-away TenantId, SourceSystem, _ResourceId, _SubscriptionId
};
parser  (disabled=disabled)
"""

# Parsers/ASimAuditEvent/Parsers/vimAuditEventNative.yaml, commit c93fd152 (0.1.0).
_IM_AUDIT_EVENT_NATIVE = """
let parser=
(
  starttime: datetime=datetime(null),
  endtime: datetime=datetime(null),
  srcipaddr_has_any_prefix: dynamic=dynamic([]),
  eventtype_in: dynamic=dynamic([]),
  eventresult: string='*',
  actorusername_has_any: dynamic=dynamic([]),
  operation_has_any: dynamic=dynamic([]),
  object_has_any: dynamic=dynamic([]),
  newvalue_has_any: dynamic=dynamic([]),
  disabled: bool = false
)
{
  ASimAuditEventLogs  | where not(disabled)
  | project-rename
        EventUid = _ItemId
  | where (isnull(starttime) or TimeGenerated >= starttime)
                  and (isnull(endtime) or TimeGenerated <= endtime)
                  and ((array_length(srcipaddr_has_any_prefix) == 0) or SrcIpAddr has_any (srcipaddr_has_any_prefix))
                  and (array_length(actorusername_has_any) == 0  or ActorUsername has_any (actorusername_has_any))
                  and (array_length(newvalue_has_any) == 0 or NewValue has_any (newvalue_has_any))
                  and (array_length(eventtype_in) == 0 or EventType has_any (eventtype_in))
                  and (array_length(operation_has_any) == 0 or Operation has_any (operation_has_any))
                  and (eventresult == '*' or EventResult == eventresult)
                  and (array_length(object_has_any) == 0 or Object has_any (object_has_any))
  | extend EventSchema = "AuditEvent"
  | extend
        Value\t= NewValue,
        User =  ActorUsername,
        Application =  TargetAppName,
        Dst = coalesce (TargetDvcId, TargetHostname, TargetIpAddr, TargetAppId, TargetAppName),
        Dvc = coalesce (DvcFQDN, DvcHostname, DvcIpAddr, DvcId, _ResourceId, strcat (EventVendor,'/', EventProduct)),
        Rule=RuleName,
        IpAddr=SrcIpAddr,
        EventStartTime = TimeGenerated,
        EventEndTime = TimeGenerated,
        Src = coalesce (SrcFQDN, SrcHostname, SrcIpAddr, SrcDvcId)
    | project-away
        _ResourceId, _SubscriptionId
  };
  parser(
    starttime=starttime,
    endtime=endtime,
    srcipaddr_has_any_prefix=srcipaddr_has_any_prefix,
    eventtype_in=eventtype_in,
    eventresult=eventresult,
    actorusername_has_any=actorusername_has_any,
    operation_has_any=operation_has_any,
    object_has_any=object_has_any,
    newvalue_has_any=newvalue_has_any,
    disabled=disabled
  )
"""  # noqa: E501

# Parsers/ASimAuditEvent/Parsers/ASimAuditEventNative.yaml, commit c3b99ac4 (0.1.0).
_ASIM_AUDIT_EVENT_NATIVE = """
let parser=(disabled:bool=false)
{
  ASimAuditEventLogs  | where not(disabled)
    | extend EventSchema = "AuditEvent"
    | project-rename
        EventUid = _ItemId
    | extend
        Value\t= NewValue,
        User =  ActorUsername,
        Application =  TargetAppName,
        Dst = coalesce (TargetDvcId, TargetHostname, TargetIpAddr, TargetAppId, TargetAppName),
        Dvc = coalesce (DvcFQDN, DvcHostname, DvcIpAddr, DvcId, _ResourceId, strcat (EventVendor,'/', EventProduct)),
        Rule=RuleName,
        IpAddr=SrcIpAddr,
        EventStartTime = TimeGenerated,
        EventEndTime = TimeGenerated,
        Src = coalesce (SrcFQDN, SrcHostname, SrcIpAddr, SrcDvcId)
    | project-away
        _ResourceId, _SubscriptionId
};
parser  (disabled=disabled)
"""  # noqa: E501

# name -> (functionParameters, body)
BUILTINS: dict[str, tuple[str, str]] = {
    "_Im_Authentication_Native": (
        f"{_AUTH_FILTERS}, disabled:bool=false",
        _IM_AUTHENTICATION_NATIVE,
    ),
    "_ASim_Authentication_Native": ("disabled:bool=false", _ASIM_AUTHENTICATION_NATIVE),
    "_Im_AuditEvent_Native": (f"{_AUDIT_FILTERS}, disabled:bool=false", _IM_AUDIT_EVENT_NATIVE),
    "_ASim_AuditEvent_Native": ("disabled:bool=false", _ASIM_AUDIT_EVENT_NATIVE),
    "_Im_Authentication": (
        f"{_AUTH_FILTERS}, pack:bool=false",
        "union isfuzzy=true\n"
        f"  _Im_Authentication_Native({_AUTH_ARGS}),\n"
        f"  Im_AuthenticationCustom({_AUTH_ARGS}, pack=pack)\n",
    ),
    "_ASim_Authentication": (
        "disabled:bool=false, pack:bool=false",
        "union isfuzzy=true\n"
        "  _ASim_Authentication_Native(disabled=disabled),\n"
        "  ASim_AuthenticationCustom(disabled=disabled, pack=pack)\n",
    ),
    "_Im_AuditEvent": (
        f"{_AUDIT_FILTERS}, pack:bool=false",
        "union isfuzzy=true\n"
        f"  _Im_AuditEvent_Native({_AUDIT_ARGS}),\n"
        f"  Im_AuditEventCustom({_AUDIT_ARGS}, pack=pack)\n",
    ),
    "_ASim_AuditEvent": (
        "disabled:bool=false, pack:bool=false",
        "union isfuzzy=true\n"
        "  _ASim_AuditEvent_Native(disabled=disabled),\n"
        "  ASim_AuditEventCustom(disabled=disabled, pack=pack)\n",
    ),
}  # fmt: skip


@functools.cache
def builtin_function(name: str) -> FunctionSpec | None:
    """Return the built-in parser ``name``, parsed (None if it is not emulated)."""
    if name not in BUILTINS:
        return None
    parameters, body = BUILTINS[name]
    label = f"built-in function {name}"
    return FunctionSpec(
        name,
        parse_parameters(parameters, label),
        parse_query(body, label),
        Source(body, label),
    )
