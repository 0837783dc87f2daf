"""No import cycles between the package's modules (the layer order itself is an import-linter contract in
pyproject.toml, checked by `make lint`)."""

import pytest

grimp = pytest.importorskip("grimp", reason="grimp comes with import-linter (dev extra)")


def test_no_import_cycles():
    graph = grimp.build_graph("aum")
    cycles = sorted({tuple(sorted((module, imported)))
                     for module in graph.modules for imported in graph.find_modules_directly_imported_by(module)
                     if not module.startswith(imported + ".") and not imported.startswith(module + ".")
                     and graph.chain_exists(importer=imported, imported=module)})
    assert not cycles, f"import cycles: {cycles}"
