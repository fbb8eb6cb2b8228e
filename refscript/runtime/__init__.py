"""What generated code calls, under the name `rs`: boxes and control-flow operators."""

from refscript.runtime.calls import convert as convert
from refscript.runtime.boxes import (
    Box as Box,
    argument_box as argument_box,
    box as box,
    box_undefined as box_undefined,
)
from refscript.runtime.control_flow import (
    assert_ as assert_,
    and_ as and_,
    if_exp as if_exp,
    not_ as not_,
    or_ as or_,
    bounded_range as bounded_range,
    compare as compare,
    for_stmt as for_stmt,
    if_stmt as if_stmt,
    range_ as range_,
    static_range as static_range,
    while_stmt as while_stmt,
)
from refscript.runtime.numpy_api import index_list as index_list
from refscript.runtime.parallel import parallel_for as parallel_for
from refscript.runtime.undefined import Undefined as Undefined
from refscript.runtime.indexing import subscript as subscript
from refscript.runtime.inplace import (  # `name op= value`; a box has the same methods
    iadd as iadd, iand as iand, ifloordiv as ifloordiv, ilshift as ilshift, imatmul as imatmul, imod as imod,
    imul as imul, ior as ior, ipow as ipow, irshift as irshift, isub as isub, itruediv as itruediv, ixor as ixor,
)
