import json

from lakehouse.platform.landing import split_csv_by_month, weather_json_line


def test_split_csv_by_month_keeps_lines_verbatim_and_groups_by_month() -> None:
    lines = [
        "year,month,x",
        "2013,1,a b",
        "2013,12,NA",
        "2013,1,0.10",
    ]
    header, months = split_csv_by_month(lines)
    assert header == "year,month,x"
    assert months == {"2013-01": ["2013,1,a b", "2013,1,0.10"], "2013-12": ["2013,12,NA"]}


def test_weather_json_line_keeps_published_digits_and_na_strings() -> None:
    line = weather_json_line(["origin", "wind_speed", "wind_gust", "precip"], "EWR,10.357019999999999,NA,0")
    assert line == '{"origin":"EWR","wind_speed":10.357019999999999,"wind_gust":"NA","precip":0}'
    assert json.loads(line)["wind_gust"] == "NA"


def test_weather_json_line_quotes_values_that_are_not_json_numbers() -> None:
    # '01' and '.5' are numbers to Python but not JSON numbers: they must stay strings.
    line = weather_json_line(["a", "b", "c"], "01,.5,nan")
    assert json.loads(line) == {"a": "01", "b": ".5", "c": "nan"}
