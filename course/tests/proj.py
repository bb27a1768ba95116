from otter.test_files import test_case

OK_FORMAT = False

name = "proj"
points = 1

@test_case(points=None, hidden=False)
def test_proj(proj):
    from mspd_core import course
    course.require(course.CHECKS['proj'](proj))

