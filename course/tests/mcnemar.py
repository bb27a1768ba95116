from otter.test_files import test_case

OK_FORMAT = False

name = "mcnemar"
points = 1

@test_case(points=None, hidden=False)
def test_mcnemar(mcnemar):
    from mspd_core import course
    course.require(course.CHECKS['mcnemar'](mcnemar))

