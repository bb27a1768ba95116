from otter.test_files import test_case

OK_FORMAT = False

name = "mcgs"
points = 1

@test_case(points=None, hidden=False)
def test_mcgs(mcgs):
    from mspd_core import course
    course.require(course.CHECKS['mcgs'](mcgs))

