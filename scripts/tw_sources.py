"""Write tailwind/crispy-source.css: an @source line for crispy-tailwind.

crispy-tailwind keeps its classes in its templates and Python modules inside
site-packages, wherever the virtualenv is; Tailwind must scan them too.
"""

import importlib.util
from pathlib import Path

package = Path(importlib.util.find_spec("crispy_tailwind").origin).parent
target = Path(__file__).resolve().parent.parent / "tailwind" / "crispy-source.css"
target.write_text(f'@source "{package.as_posix()}";\n')
