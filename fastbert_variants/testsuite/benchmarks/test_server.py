"""The highest Poisson rate a served variant holds within the p99 budget (scenarios/server.py): torch-fp32, then the
offline scenario's best gated variants, which the server scenario asks of it. pytest-benchmark's figure is one
text's round trip through the served variant at idle (its group names the variant); the capacity is the record's."""


def test_server(benchmark, fastbert, server_case):
    measured = fastbert.measure(server_case, benchmark)
    assert measured.ok, measured.problem  # every request sent was answered or counted as an error
    benchmark.extra_info.update(measured.info)
