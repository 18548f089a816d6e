"""The KQL subset: each operator and function, Kusto's null rules, and the refusals."""

from __future__ import annotations

import pytest

from tap_zoom_defender.azure_monitor_sandbox.kql import KQLError, KQLSemanticError, run_query

from .kql_catalog import FakeCatalog, sign_ins


def rows(query: str, catalog: FakeCatalog | None = None) -> list[dict]:
    return run_query(query, catalog or sign_ins()).rows


def users(query: str, catalog: FakeCatalog | None = None) -> list[str]:
    return [row["User"] for row in rows(query, catalog)]


def test_where_extend_project_and_rendering():
    out = rows(
        "SignIns | where Result == 'Success' "
        "| extend Who = strcat(User, '/', Ip), Tag = Who | project Who, Tag, At, Count"
    )
    # extend evaluates left to right: Tag sees Who; datetimes render as ISO 8601 with Z
    assert out == [{"Who": "ada@example.com/10.1.2.3", "Tag": "ada@example.com/10.1.2.3",
                    "At": "2026-01-10T12:00:00Z", "Count": 1}]  # fmt: skip
    result = run_query("SignIns | project-away Tags, Ip | project-rename Name = User", sign_ins())
    assert [c["name"] for c in result.columns] == ["Name", "Result", "At", "Count"]
    assert result.rows[2] == {"Name": "carol", "Result": "success", "At": None, "Count": 3}


def test_string_equality_is_case_sensitive_and_tilde_operators_are_not():
    assert users("SignIns | where Result == 'success'") == ["carol"]
    assert users("SignIns | where Result =~ 'SUCCESS'") == ["ada@example.com", "carol"]
    assert users("SignIns | where Result !~ 'success'") == ["Bob.Smith@Example.com", ""]
    assert users("SignIns | where Result != 'Success'") == ["Bob.Smith@Example.com", "carol", ""]


def test_has_matches_whole_terms_ignoring_case():
    assert users("SignIns | where User has 'example'") == [
        "ada@example.com",
        "Bob.Smith@Example.com",
    ]
    assert users("SignIns | where User has 'exam'") == []  # not a whole term
    assert users("SignIns | where User has 'SMITH@example.COM'") == ["Bob.Smith@Example.com"]
    assert users("SignIns | where User !has 'example'") == ["carol", ""]
    assert users("SignIns | where User has_any ('carol', 'ada')") == ["ada@example.com", "carol"]
    assert users("SignIns | where User has_any (dynamic([]))") == []  # empty list: false
    assert users("SignIns | where User contains 'OB.SM'") == ["Bob.Smith@Example.com"]
    assert users("SignIns | where User startswith 'BOB'") == ["Bob.Smith@Example.com"]
    assert users("SignIns | where User endswith '.COM'") == [
        "ada@example.com",
        "Bob.Smith@Example.com",
    ]


def test_in_operators_flatten_dynamic_arrays():
    assert users("SignIns | where Result in ('Success', 'x')") == ["ada@example.com"]
    assert users("SignIns | where Result in~ (dynamic(['SUCCESS']))") == [
        "ada@example.com",
        "carol",
    ]
    assert users("SignIns | where Result !in (dynamic(['Success', 'success']))") == [
        "Bob.Smith@Example.com", ""]  # fmt: skip
    assert users("SignIns | where Count in (1, 3)") == ["ada@example.com", "carol"]
    # A null value is in no list; so it is "!in" every list.
    assert users("SignIns | where Count !in (1, 3)") == ["Bob.Smith@Example.com", ""]


def test_null_rules():
    # == with one null: false; != with one null: true; ordering with null: null (dropped)
    assert users("SignIns | where Count == 0") == [""]
    assert users("SignIns | where Count != 0") == [
        "ada@example.com",
        "Bob.Smith@Example.com",
        "carol",
    ]
    assert users("SignIns | where Count >= 1") == ["ada@example.com", "carol"]
    assert users("SignIns | where not(Count >= 1)") == [""]  # not(null) stays null
    # and/or read null as false
    assert users("SignIns | where Count >= 0 or isnull(Count)") == [
        "ada@example.com", "Bob.Smith@Example.com", "carol", ""]  # fmt: skip
    # strings are never null: a missing string is empty
    out = rows("SignIns | where User == 'carol' | extend N = isnull(Ip), E = isempty(Ip), "
               "D = isnull(At), C = isnotnull(Count), S = tostring(At)")  # fmt: skip
    assert {k: out[0][k] for k in "NEDCS"} == {
        "N": False,
        "E": False,
        "D": True,
        "C": True,
        "S": "",
    }
    assert users("SignIns | where isempty(Ip)") == [""]
    assert users("SignIns | where isnotempty(Ip) and isnull(At)") == ["carol"]


def test_datetime_comparison_and_literals():
    assert users("SignIns | where At > datetime(2026-01-05)") == ["ada@example.com", ""]
    assert users("SignIns | where At <= datetime(2026-01-01T00:00:00Z)") == [
        "Bob.Smith@Example.com"
    ]
    assert users("SignIns | where isnull(datetime(null)) and At < datetime(2026-01-10 12:00)") == [
        "Bob.Smith@Example.com"]  # fmt: skip


def test_scalar_functions():
    out = rows(
        "SignIns | where User == 'ada@example.com' | project "
        "A = array_length(Tags), B = coalesce('', User), C = iff(Count > 0, 'yes', 'no'), "
        "D = iif(isnull(Count), 1, 2), E = toint('42'), F = toint('x'), "
        "G = todatetime('2026-02-03T04:05:06.5Z'), H = tostring(Count), I = strcat('a', 1, true), "
        "J = column_ifexists('Ip', 'none'), K = column_ifexists('Nope', 'none'), "
        "L = coalesce(datetime(null), At), M = array_length(dynamic(null))"
    )
    assert out == [{"A": 2, "B": "ada@example.com", "C": "yes", "D": 2, "E": 42, "F": None,
                    "G": "2026-02-03T04:05:06.5Z", "H": "1", "I": "a1true", "J": "10.1.2.3",
                    "K": "none", "L": "2026-01-10T12:00:00Z", "M": None}]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "prefixes", "expected"),
    [  # the examples of Microsoft's has_any_ipv4_prefix() page
        ("05:04:54 127.0.0.1 GET /favicon.ico 404", "'127.0.', '192.168.'", True),
        ("05:04:54 127.0.0.1 GET /favicon.ico 404", "dynamic(['127.0.', '192.168.'])", True),
        ("05:04:54 127.0.0.1 GET /favicon.ico 404", "'127.0'", False),  # not a valid prefix
        ("05:04:54127.0.0.1 GET /favicon.ico 404", "'127.0.', '192.'", False),  # not delimited
        ("05:04:54 127.0.0.256 GET /favicon.ico 404", "'127.0.'", False),  # not an address
        ("10.1.2.3", "'10.1.2.3'", True),  # a complete address
    ],
)
def test_has_any_ipv4_prefix(text, prefixes, expected):
    catalog = FakeCatalog({"T": ({"S": "string"}, [{"S": text}])})
    assert rows(f"T | where has_any_ipv4_prefix(S, {prefixes})", catalog) == (
        [{"S": text}] if expected else []
    )


def test_let_statements_and_functions():
    query = """
    let wanted = 'Success';   // a scalar let
    let pick = (result:string, from_at:datetime=datetime(null), n:long=1) {
        SignIns | where Result =~ result and (isnull(from_at) or At >= from_at)
        | extend N = n
    };
    union pick(wanted, n=5), pick(result='failure'), pick('success', datetime(2026-01-05))
    """
    out = rows(query)
    assert [(r["User"], r["N"]) for r in out] == [
        ("ada@example.com", 5), ("carol", 5), ("Bob.Smith@Example.com", 1),
        ("ada@example.com", 1)]  # fmt: skip


def test_saved_functions_bind_defaults_and_can_be_used_without_parentheses():
    catalog = sign_ins()
    catalog.functions = {
        "Failures": (
            "result:string='Failure', disabled:bool=False",
            "SignIns | where not(disabled) | where Result == result | project User",
        ),
        "Wrapper": ("", "Failures(disabled=false)"),
    }  # fmt: skip
    assert users("Failures", catalog) == ["Bob.Smith@Example.com"]
    assert users("Failures(result='Success')", catalog) == ["ada@example.com"]
    assert users("Failures(disabled=true)", catalog) == []
    assert users("Wrapper | where User has 'bob'", catalog) == ["Bob.Smith@Example.com"]


def test_union_outer_splits_a_column_with_two_types():
    result = run_query(
        "union (SignIns | where Count == 3 | project User, Count), Other", sign_ins()
    )
    assert [c["name"] for c in result.columns] == ["User", "Count_int", "Count_long", "Extra"]
    assert result.rows == [
        {"User": "carol", "Count_int": 3, "Count_long": None, "Extra": None},
        {"User": "zed", "Count_int": None, "Count_long": 9, "Extra": True},
    ]


def test_union_isfuzzy_skips_unresolvable_legs_with_a_warning():
    catalog = sign_ins()
    catalog.functions = {"Broken": ("", "SignIns | where NoSuchColumn == 1")}
    result = run_query("union isfuzzy=true Other, Missing, Broken", catalog)
    assert [r["User"] for r in result.rows] == ["zed"]
    assert len(result.warnings) == 2
    assert "Missing" in result.warnings[0] and "NoSuchColumn" in result.warnings[1]
    with pytest.raises(KQLSemanticError, match="'Missing'"):
        run_query("union Other, Missing", catalog)
    with pytest.raises(KQLSemanticError, match="no union leg could be resolved"):
        run_query("union isfuzzy=true Missing", catalog)
    # What the emulator does not evaluate is never skipped, even in a fuzzy union.
    catalog.functions["Unsupported"] = ("", "SignIns | summarize count()")
    with pytest.raises(KQLError, match="operator 'summarize' is not supported"):
        run_query("union isfuzzy=true Other, Unsupported", catalog)


def test_datatable():
    result = run_query("datatable (EventType:string, N:long) ['a', 1, 'b', 2] | where N > 1",
                       sign_ins())  # fmt: skip
    assert result.rows == [{"EventType": "b", "N": 2}]
    assert rows("datatable (EventType:string) []") == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SignIns | summarize count() by User", "line 1, column 11: operator 'summarize' is not"),
        ("SignIns\n| where Count + 1 > 2", "line 2, column 15: arithmetic operator '+'"),
        ("SignIns | where ago(1d) < At", "literal '1d' (timespan or hex) is not supported"),
        ("SignIns | where User matches regex 'x'", "operator 'matches' is not supported"),
        ("SignIns | where At > now()", "function now() is not supported"),
        ("let T = SignIns | where Count > 1; T", "let T = <tabular expression> is not supported"),
        ("let T = SignIns; T", "let T = <tabular expression> is not supported"),
        ("SignIns | project-away Co*", "project-away: wildcards are not supported"),
        ("union kind=inner SignIns, Other", "union parameter kind=inner is not supported"),
        ("SignIns | where Tags[0] == 'a'", "member access '[' on a value is not supported"),
        ("SignIns | where Count > 1 > 0", "chained comparison"),
        ("SignIns | extend tostring(Count)", "only 'Column = expression' items are supported"),
        ("SignIns; Other", "only one tabular expression statement is supported"),
        ("SignIns | where User == 'x' AND Count > 1", "line 1, column 29: unexpected 'AND'"),
        ("SignIns | where Tags == dynamic(['a'])", "'==' on a dynamic value is not supported"),
        ("SignIns | where timespan(1d) > 0", "timespan(...) literals are not supported"),
        ("let f = (T:(*)) { T }; f(SignIns)", "tabular parameter T is not supported"),
    ],
)
def test_unsupported_constructs_are_refused_with_their_position(query, message):
    with pytest.raises(KQLError) as caught:
        run_query(query, sign_ins())
    assert not isinstance(caught.value, KQLSemanticError)
    assert message in str(caught.value) and str(caught.value).startswith("query line ")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SignIns | where Nope == 1", "Failed to resolve scalar expression named 'Nope'"),
        ("Nope | where User == 'x'", "Failed to resolve table or column expression named 'Nope'"),
        ("SignIns | project-away Nope", "project-away: column 'Nope' does not exist"),
        ("SignIns | project-rename A = Nope", "project-rename: column 'Nope' does not exist"),
        ("SignIns | where User == At", "Cannot compare values of types string and datetime"),
        ("SignIns | where Count", "where needs a bool predicate, not int"),
        ("SignIns | where User and true", "'and' needs bool operands, not string"),
        ("SignIns | extend X = coalesce(User, At)", "arguments must have the same type"),
        ("let f = (a:string) { SignIns }; f(b='x')", "f has no parameter named 'b'"),
        ("let f = (a:string) { SignIns }; f()", "f: no value for parameter 'a'"),
        ("let f = (a:string) { SignIns }; f(a=1)", "argument a of f must be string, not long"),
        ("let f = () { f() }; f()", "recursive call of f"),
    ],
)
def test_what_kusto_rejects_is_a_semantic_error(query, message):
    with pytest.raises(KQLSemanticError) as caught:
        run_query(query, sign_ins())
    assert message in str(caught.value)


def test_a_name_that_is_both_a_column_and_a_parameter_is_refused():
    with pytest.raises(KQLError, match="'User' is both a column and a parameter"):
        run_query("let User = 'x'; SignIns | where User == 'ada'", sign_ins())
    # The same name in a scalar-only context is fine.
    assert rows("let User = 'ada@example.com'; Other | project-away User | extend U = User") == [
        {"Count": 9, "Extra": True, "U": "ada@example.com"}]  # fmt: skip


def test_errors_in_a_function_body_name_the_function_and_line():
    catalog = sign_ins()
    catalog.functions = {"F": ("", "SignIns\n| where Nope == 1")}
    with pytest.raises(KQLSemanticError, match=r"^function F line 2, column 9: Failed to resolve"):
        run_query("F", catalog)
