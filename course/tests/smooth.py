from otter.test_files import test_case

OK_FORMAT = False

name = "smooth"
points = 1

@test_case(points=None, hidden=False)
def test_smooth(smooth):
    from importlib.util import find_spec, module_from_spec, spec_from_file_location
    from pathlib import Path
    spec = spec_from_file_location('mspd_grading', Path(find_spec('mspd_core').origin).with_name('grading.py'))
    grading = module_from_spec(spec)
    spec.loader.exec_module(grading)
    grading.grade('smooth', smooth, hidden=False)

