"""The highest Poisson rate a served variant holds within the p99 budget (scenarios/server.py): torch-fp32, then the
offline scenario's best gated variants, which the server scenario asks of it."""


def test_server(benchmark, fastbert, server_case):
    measured = fastbert.measure(server_case, benchmark)
    assert measured.ok, measured.problem  # every request sent was answered or counted as an error
    benchmark.extra_info.update(measured.info)
