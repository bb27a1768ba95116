from otter.test_files import test_case

OK_FORMAT = False

name = "smooth"
points = 1

@test_case(points=None, hidden=False)
def test_smooth(smooth):
    from mspd_core import course
    course.require(course.CHECKS['smooth'](smooth))

