*** Comments ***
The firmware on Renode's Arduino Nano 33 BLE: the bare-metal nRF52840 image (firmware/boards/nrf52840) and,
tagged `arduino`, the PlatformIO Arduino image for the BLE Sense. tests/renode/test_renode.py builds the
image, prepares the audio and TFLM's golden scores and runs this suite; it can also be run directly:
renode-test tests/renode/kws.robot --exclude arduino --variable ELF:... --variable REPL:... --variable WAV:...
    --variable FRAMES:... --variable GOLDEN:... --variable DETECTION:... --variable UART_LOG:...
    --variable BENCH:... --variable INFERENCE_BEGIN:0x... --variable INFERENCE_END:0x...
renode-test tests/renode/kws.robot --include arduino --variable REPL:... --variable WAV:... --variable LABEL:yes
    --variable UART_LOG:...

*** Settings ***
Suite Setup         Setup
Suite Teardown      Teardown
Test Setup          Reset Emulation
Test Teardown       Test Teardown
Resource            ${RENODEKEYWORDS}
Library             OperatingSystem
Library             String

*** Variables ***
${UART}                         sysbus.uart0
${CHAR_TIME}                    0.0000868    # seconds per character on the wire: 115200 baud, 10 bits
${UARTE}                        ${CURDIR}/../../firmware/boards/nrf52840/nrf52840_uarte.cs
${ARDUINO_NANO33BLE_SENSE_ELF}  ${CURDIR}/../../.pio/build/nano33ble_sense/firmware.elf
${ARDUINO_NANO33BLE_ELF}        ${CURDIR}/../../.pio/build/nano33ble/firmware.elf

*** Keywords ***
Create Nano 33 BLE
    [Arguments]             ${elf}=${ELF}
    Execute Command         include @${UARTE}
    Execute Command         mach create "nano33ble"
    Execute Command         machine LoadPlatformDescription @${REPL}
    Execute Command         sysbus LoadELF @${elf}
    Execute Command         ${UART} CreateFileBackend @${UART_LOG} true
    Create Terminal Tester  ${UART}    timeout=120

Skip Unless Built
    [Arguments]             ${elf}    ${env}
    ${built}=               Run Keyword And Return Status    File Should Exist    ${elf}
    Skip If                 not ${built}    no PlatformIO image at ${elf} (build it with `pio run -e ${env}`)

Send Audio Frames
    [Documentation]         The protocol's audio frames in ${FRAMES}, one line each, at the wire's pace;
    ...                     each one acknowledged before the next.
    Write Char Delay        ${CHAR_TIME}
    ${text}=                Get File    ${FRAMES}
    @{frames}=              Split To Lines    ${text}
    FOR    ${seq}    ${frame}    IN ENUMERATE    @{frames}
        Write Line To Uart      ${frame}    waitForEcho=false
        Wait For Line On Uart   "cmd":"audio","seq":${seq},    treatAsRegex=true
    END

*** Test Cases ***
Boots And Says Hello On UART0
    Create Nano 33 BLE
    Start Emulation
    Wait For Line On Uart   "type":"hello".*"board":"nrf52840".*"ready":true    treatAsRegex=true

Detects Keyword From The PDM Microphone
    Create Nano 33 BLE
    Execute Command         sysbus.pdm SetInputFile @${WAV}
    Start Emulation
    Wait For Line On Uart   "type":"detection",${DETECTION}    treatAsRegex=true

Serial Audio Frames Give The TFLM Golden Scores And The Same Detection
    Create Nano 33 BLE
    Start Emulation
    Wait For Line On Uart   "type":"hello"    treatAsRegex=true
    Write Line To Uart      scores on    waitForEcho=false
    Wait For Line On Uart   "cmd":"scores","on":true    treatAsRegex=true
    Send Audio Frames
    ${log}=                 Get File    ${UART_LOG}
    Should Not Contain      ${log}    "type":"error"
    Should Match Regexp     ${log}    "type":"detection",${DETECTION}
    ${text}=                Get File    ${GOLDEN}
    @{golden}=              Split To Lines    ${text}
    ${count}=               Get Count    ${log}    "type":"scores"
    Length Should Be        ${golden}    ${count}
    FOR    ${scores}    IN    @{golden}
        Should Contain          ${log}    ${scores}
    END

Malformed Serial Input Gets Errors And The Firmware Keeps Working
    Create Nano 33 BLE
    Start Emulation
    Wait For Line On Uart   "type":"hello"    treatAsRegex=true
    Write Line To Uart      garbage here    waitForEcho=false
    Wait For Line On Uart   "type":"error","msg":"unknown command"    treatAsRegex=true
    Write Line To Uart      audio 1 4 00000000 AAAAAAAAAAA=    waitForEcho=false
    Wait For Line On Uart   "type":"error","msg":"audio: crc mismatch"    treatAsRegex=true
    Write Line To Uart      audio 2 512 00000000 AAAAAAAA    waitForEcho=false
    Wait For Line On Uart   "type":"error","msg":"audio: length does not match the sample count"    treatAsRegex=true
    ${runaway}=             Evaluate    "x" * 2000
    Write Line To Uart      ${runaway}    waitForEcho=false
    Wait For Line On Uart   "type":"error","msg":"line too long"    treatAsRegex=true
    Write Line To Uart      threshold 200    waitForEcho=false
    Wait For Line On Uart   "cmd":"threshold","threshold":200    treatAsRegex=true
    Write Line To Uart      info    waitForEcho=false
    Wait For Line On Uart   "type":"hello".*"threshold":200    treatAsRegex=true

Counts Instructions Per Inference
    Create Nano 33 BLE
    Execute Command         sysbus.pdm SetInputFile @${WAV}
    Execute Command         python "import __builtin__; __builtin__.kws_counts = []"
    Execute Command         sysbus.cpu AddHook ${INFERENCE_BEGIN} "import __builtin__; __builtin__.kws_start = self.ExecutedInstructions"
    Execute Command         sysbus.cpu AddHook ${INFERENCE_END} "import __builtin__; __builtin__.kws_counts.append(int(self.ExecutedInstructions - __builtin__.kws_start))"
    Start Emulation
    Wait For Line On Uart   "type":"detection"    treatAsRegex=true
    Execute Command         pause
    Execute Command         python "import __builtin__, json; c = __builtin__.kws_counts; f = open(r'${BENCH}', 'w'); f.write(json.dumps({'inferences': len(c), 'instructions_per_inference': sum(c) // max(len(c), 1), 'instructions_per_inference_max': max(c or [0])})); f.close()"

PlatformIO BLE Sense Image Gives The Host's Detection From The PDM Microphone
    [Documentation]         SENSE_DETECTION and SENSE_GOLDEN are TFLM's on the audio the sketch hears (it drops
    ...                     the microphone's first 0.5 s). Scores are switched on over Serial1 during the lead-in.
    [Tags]                  arduino    nano33ble_sense
    Skip Unless Built       ${ARDUINO_NANO33BLE_SENSE_ELF}    nano33ble_sense
    Create Nano 33 BLE      ${ARDUINO_NANO33BLE_SENSE_ELF}
    Execute Command         sysbus.pdm SetInputFile @${WAV}
    Start Emulation
    Wait For Line On Uart   "type":"hello".*"board":"nano33ble-sense".*"ready":true    treatAsRegex=true
    Write Line To Uart      scores on    waitForEcho=false
    Wait For Line On Uart   "cmd":"scores","on":true    treatAsRegex=true
    Wait For Line On Uart   "type":"detection",${SENSE_DETECTION}    treatAsRegex=true
    ${log}=                 Get File    ${UART_LOG}
    Should Not Contain      ${log}    "type":"error"
    ${text}=                Get File    ${SENSE_GOLDEN}
    @{lines}=               Get Regexp Matches    ${log}    "time":\\d+,"scores":\\[[-0-9,]+\\]
    ${count}=               Get Length    ${lines}
    Should Be True          ${count} >= ${SENSE_MIN_SCORES}
    FOR    ${scores}    IN    @{lines}
        Should Contain          ${text}    ${scores}
    END

PlatformIO Nano 33 BLE Image Gives The TFLM Golden Scores From Serial Audio Frames
    [Documentation]         The plain board has no microphone: audio arrives in the protocol's frames on Serial1.
    [Tags]                  arduino    nano33ble
    Skip Unless Built       ${ARDUINO_NANO33BLE_ELF}    nano33ble
    Create Nano 33 BLE      ${ARDUINO_NANO33BLE_ELF}
    Start Emulation
    Wait For Line On Uart   "type":"hello".*"board":"nano33ble".*"ready":true    treatAsRegex=true
    Write Line To Uart      scores on    waitForEcho=false
    Wait For Line On Uart   "cmd":"scores","on":true    treatAsRegex=true
    Send Audio Frames
    ${log}=                 Get File    ${UART_LOG}
    Should Not Contain      ${log}    "type":"error"
    Should Match Regexp     ${log}    "type":"detection",${DETECTION}
    ${text}=                Get File    ${GOLDEN}
    @{golden}=              Split To Lines    ${text}
    ${count}=               Get Count    ${log}    "type":"scores"
    Length Should Be        ${golden}    ${count}
    FOR    ${scores}    IN    @{golden}
        Should Contain          ${log}    ${scores}
    END
    Wait For Line On Uart   "type":"memory","heap_used":\\d+,"heap_reserved":\\d+,"stack_used":\\d+    treatAsRegex=true
