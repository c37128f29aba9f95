"""The core must import and rank ONNX zoos without torch (and without ray)."""

import subprocess
import sys

SCRIPT = """
import sys

class Block:
    def find_spec(self, name, path, target=None):
        if name.split('.')[0] in ('torch', 'ray'):
            raise ImportError('blocked ' + name)

sys.meta_path.insert(0, Block())
from modelcentrality.cli import main
status = main(['rank', sys.argv[1], '--votes', '40', '--scale-samples', '500', '--quiet',
               '--n-boot', '0', '--report', sys.argv[2]])
assert status == 0, status
assert 'torch' not in sys.modules and 'ray' not in sys.modules
print('ranked without torch')
"""


def test_rank_without_torch(synthetic_zoo_master, tmp_path):
    # `make demo` installs neither torch nor ray, and writes the report.
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(synthetic_zoo_master), str(tmp_path / "report")],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "ranked without torch" in done.stdout
