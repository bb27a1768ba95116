from otter.test_files import test_case

OK_FORMAT = False

name = "forward_epoch"
points = 1

@test_case(points=None, hidden=False)
def test_forward_epoch(forward_epoch):
    from mspd_core import course
    course.require(course.CHECKS['forward_epoch'](forward_epoch))

