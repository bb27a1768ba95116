from otter.test_files import test_case

OK_FORMAT = False

name = "reversion"
points = 1

@test_case(points=None, hidden=False)
def test_reversion(reversion):
    from mspd_core import course
    course.require(course.CHECKS['reversion'](reversion))

